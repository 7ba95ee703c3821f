"""The fault suite, on real `ragsvc serve` processes: killed at random points over
and over, nothing acknowledged is lost and no helper process survives; two processes
sharing one data directory for a minute never answer a server error and lose no write.
Slow tier."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.pdfs import make_pdf
from tests.support.server import alive, descendants, server_process

pytestmark = pytest.mark.slow
ROUNDS = 6
SHARED_SECONDS = float(os.environ.get("RAGSVC_FAULT_SECONDS", "60"))


def uploads_until_killed(base: str, token: str, round_: int, acknowledged: dict) -> None:
    """Upload one small PDF after another; note each acknowledged (201) one."""
    headers = {"Authorization": f"Bearer {token}"}
    for n in range(1000):
        name = f"r{round_}-{n}.pdf"
        files = {"files": (name, make_pdf([f"Round {round_}, upload {n}: the tide log."]))}
        try:
            reply = httpx.post(f"{base}/upload", files=files, headers=headers, timeout=10)
        except httpx.HTTPError:
            return  # the server was killed mid-request: not acknowledged
        if reply.status_code == 201:
            acknowledged.setdefault(token, set()).add(name)


def test_killed_at_random_points_loses_nothing_acknowledged(tmp_path: Path):
    rng = random.Random(10)  # the same points each run
    data = tmp_path / "data"
    acknowledged: dict[str, set[str]] = {}
    for round_ in range(ROUNDS):
        with server_process(data) as (base, server):
            check_nothing_lost(base, acknowledged)
            token = httpx.post(f"{base}/sessions").json()["token"]
            acknowledged[token] = set()
            writer = threading.Thread(
                target=uploads_until_killed, args=(base, token, round_, acknowledged)
            )
            helpers = helper_processes(server.pid)
            writer.start()
            time.sleep(rng.uniform(0.2, 1.5))
            os.kill(server.pid, signal.SIGKILL)
            writer.join(timeout=30)
            server.wait(timeout=10)
        assert wait_gone(helpers), f"round {round_}: helper processes outlived the kill"
    with server_process(data) as (base, _):
        check_nothing_lost(base, acknowledged)
    assert sum(len(names) for names in acknowledged.values()) >= ROUNDS  # it really wrote


def check_nothing_lost(base: str, acknowledged: dict[str, set[str]]) -> None:
    for token, names in acknowledged.items():
        headers = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"{base}/documents", headers=headers).json()["documents"]
        ready = {d["filename"] for d in listed if d["status"] == "ready"}
        assert names <= ready, f"lost after a kill: {sorted(names - ready)}"


def helper_processes(pid: int) -> set[int]:
    """The server's helpers, once its page workers have started (the fork server, two
    workers, multiprocessing's resource tracker)."""
    deadline = time.monotonic() + 30
    while len(helpers := descendants(pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    return helpers


def wait_gone(pids: set[int], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pids)


def test_two_processes_on_one_data_dir_never_fail_and_lose_no_write(tmp_path: Path):
    data = tmp_path / "data"
    unlimited = {"RAGSVC_ASK_RATE_PER_MINUTE": "0", "RAGSVC_MAX_SESSION_DOCUMENTS": "100000"}
    with (
        server_process(data, **unlimited) as (one, _),
        server_process(data, **unlimited) as (
            two,
            _,
        ),
    ):
        token = httpx.post(f"{one}/sessions").json()["token"]
        outcomes: list[tuple[str, int]] = []
        written: list[str] = []
        deadline = time.monotonic() + SHARED_SECONDS
        workers = [
            threading.Thread(target=mixed_load, args=(a, b, token, deadline, outcomes, written))
            for a, b in ((one, two), (two, one))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        headers = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"{two}/documents", headers=headers).json()["documents"]
    failures = [(what, status) for what, status in outcomes if status >= 500]
    assert failures == [], f"server errors: {failures[:10]} of {len(outcomes)} requests"
    assert len(outcomes) > 50
    assert set(written) <= {d["filename"] for d in listed}


def mixed_load(
    writer: str, reader: str, token: str, deadline: float, outcomes: list, written: list
) -> None:
    """Upload to one process, read and ask through the other, until the deadline."""
    headers = {"Authorization": f"Bearer {token}"}
    ask = {**headers, "Accept": "application/json"}
    n = 0
    while time.monotonic() < deadline:
        name = f"{writer[-5:]}-{n}.pdf"
        files = {"files": (name, make_pdf([f"Upload {n} through {writer}: gulls and tides."]))}
        reply = httpx.post(f"{writer}/upload", files=files, headers=headers, timeout=30)
        outcomes.append(("upload", reply.status_code))
        if reply.status_code == 201:
            written.append(name)
        for _ in range(3):
            reply = httpx.get(f"{reader}/documents", headers=headers, timeout=30)
            outcomes.append(("list", reply.status_code))
            question = {"question": f"What happened at upload {n}?"}
            reply = httpx.post(f"{reader}/ask", json=question, headers=ask, timeout=30)
            outcomes.append(("ask", reply.status_code))
        n += 1
