"""X-Forwarded-For counts only from a trusted proxy: sent directly, it cannot spread one
address's requests over many rate limits. A real server: slow tier."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import running_server


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [False, True], ids=["direct", "behind a trusted proxy"])
def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path: Path, trusted: bool):
    env = {"RAGSVC_SESSION_RATE_PER_MINUTE": "2"}
    if trusted:
        env["RAGSVC_TRUSTED_PROXIES"] = "127.0.0.1"
    with running_server(tmp_path / "data", **env) as base:
        statuses = [
            httpx.post(f"{base}/sessions", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
            for i in range(3)
        ]
    # Directly, the header is a lie and all three come from one address: the third is refused.
    assert statuses == ([201, 201, 201] if trusted else [201, 201, 429])
