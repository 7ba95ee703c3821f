"""No helper process (the page workers, their fork server) outlives a killed server, with
one process or with several workers. Real processes: slow tier."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.server import alive, descendants, server_process


@pytest.mark.slow
@pytest.mark.parametrize("args", [(), ("--workers", "2")], ids=["one process", "two workers"])
def test_no_helper_process_outlives_a_killed_server(
    tmp_path: Path, args: tuple[str, ...], redis_url: str
):
    with server_process(tmp_path / "data", *args, RAGSVC_REDIS_URL=redis_url) as (_, server):
        # page workers (two per server process) start in the background: wait for them
        expected = 3 if not args else 8  # fork server + 2 workers, per uvicorn worker
        deadline = time.monotonic() + 30
        while len(helpers := descendants(server.pid)) < expected:
            assert time.monotonic() < deadline, f"only {len(helpers)} helper processes"
            time.sleep(0.1)
        os.kill(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while alive(helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
    survivors = alive(helpers)
    for pid in survivors:  # a failing run leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert survivors == set(), "helper processes outlived the killed server"
