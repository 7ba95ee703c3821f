"""A `ragsvc worker` SIGKILLed mid-ingest (a rolling update, the OOM killer) does not lose the
upload: its job goes back on the queue, another worker ingests the document again from the
bytes waiting in PostgreSQL, and it becomes `ready`, whole. Slow: a replica and two workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.pdfs import make_pdf
from tests.support.server import server_process, worker_process

pytestmark = pytest.mark.slow
PAGES = 1500
TEXT = "Page {} of the harbour almanac lists the tides and the ships at anchor. "


def _status(base: str, document_id: str, who: dict[str, str]) -> dict:
    return dict(httpx.get(f"{base}/documents/{document_id}", headers=who, timeout=10).json())


def _first_progress(base: str, document_id: str, who: dict[str, str]) -> None:
    """Return once a worker reports pages of the document (it has taken the job)."""
    url = f"{base}/documents/{document_id}/events"
    with httpx.stream("GET", url, headers=who, timeout=60) as stream:
        for line in stream.iter_lines():
            if line == "event: page":
                return


def test_a_worker_killed_mid_ingest_leaves_the_document_to_another(
    tmp_path: Path, database_url: str, redis_url: str
):
    env = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": database_url,
        "RAGSVC_REDIS_URL": redis_url,
        "RAGSVC_INGEST_QUEUE": "redis",
        "RAGSVC_PARSE_WORKERS": "1",
    }
    big = make_pdf([TEXT.format(i) * 25 for i in range(PAGES)])  # seconds of ingesting
    with server_process(tmp_path / "data", **env) as (base, _):
        with worker_process(tmp_path, **env) as first:
            up = httpx.post(f"{base}/upload?wait=false", files={"files": ("big.pdf", big)})
            assert up.status_code == 202, up.text
            who = {"Authorization": f"Bearer {up.json()['token']}"}
            document_id = up.json()["documents"][0]["id"]
            _first_progress(base, document_id, who)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        killed_at = time.monotonic()
        with worker_process(tmp_path, **env):  # as an orchestrator restarts it
            deadline = time.monotonic() + 120
            while (document := _status(base, document_id, who))["status"] == "processing":
                assert time.monotonic() < deadline, "the document stayed processing"
                time.sleep(0.5)
        took = time.monotonic() - killed_at
    assert document["status"] == "ready", document
    assert document["pages"] == PAGES
    assert took < 90, f"ready {took:.0f} s after the worker was killed"
