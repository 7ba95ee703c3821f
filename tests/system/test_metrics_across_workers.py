"""`ragsvc serve --workers 2` as a real process: whichever worker answers a scrape, /metrics
reports both, added up (prometheus-client's multiprocess mode), so a counter never goes
back from one scrape to the next; a killed worker's counts stay, its gauges go; the
supervisor's metrics directory is gone once it exits. Slow tier."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import server_process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
HEALTHZ = frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})
SCRAPES = frozenset({("method", "GET"), ("route", "/metrics"), ("status", "200")})
REQUESTS = 60


def scrape(base: str) -> Samples:
    """One scrape on a connection of its own (so on either worker)."""
    reply = httpx.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=10)
    assert reply.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def worker_pids(got: Samples) -> set[int]:
    """The workers reporting their memory: every live one."""
    memory = "process_resident_memory_bytes"
    return {int(dict(labels).get("pid", 0)) for name, labels in got if name == memory}


def until_workers(base: str, count: int, not_these: frozenset[int] = frozenset()) -> set[int]:
    """The pids of the workers reporting, once `count` of them do (none of `not_these`), or
    after 30 s."""
    deadline = time.monotonic() + 30
    while len(pids := worker_pids(scrape(base))) != count or pids & not_these:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return pids


def scrapes(base: str, count: int) -> list[Samples]:
    return [scrape(base) for _ in range(count)]


def assert_added_up(seen: list[Samples], healthz: int) -> None:
    """Every scrape reports every request; the count of scrapes never goes back."""
    assert [got[("ragsvc_http_requests_total", HEALTHZ)] for got in seen] == [healthz] * len(seen)
    counted = [got[("ragsvc_http_requests_total", SCRAPES)] for got in seen]
    assert counted == sorted(counted) and counted[-1] > counted[0], counted


@pytest.mark.slow
def test_serve_with_two_workers_reports_both_added_up_and_a_killed_ones_counts_stay(
    tmp_path: Path, redis_url: str
):
    with server_process(
        tmp_path / "data", "--workers", "2", RAGSVC_REDIS_URL=redis_url, RAGSVC_PARSE_WORKERS="0"
    ) as (base, _):
        workers = until_workers(base, 2)
        time.sleep(1)  # (without shared metrics, the second worker may still be starting)
        with ThreadPoolExecutor(8) as pool:  # at once, each on its own connection: both answer
            replies = list(
                pool.map(
                    lambda _: httpx.get(f"{base}/healthz", headers={"Connection": "close"}),
                    range(REQUESTS),
                )
            )
        assert all(reply.status_code == 200 for reply in replies)
        seen = scrapes(base, 30)
        assert_added_up(seen, REQUESTS)
        assert len(workers) == 2 and all(worker_pids(got) == workers for got in seen)
        shared = {
            line.partition(b"=")[2].decode()
            for pid in workers
            for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if line.startswith(b"PROMETHEUS_MULTIPROC_DIR=")
        }
        [directory] = shared
        assert Path(directory).is_dir()

        killed = min(workers)
        os.kill(killed, signal.SIGKILL)  # uvicorn's supervisor starts another
        replaced = until_workers(base, 2, not_these=frozenset({killed}))
        assert len(replaced) == 2 and killed not in replaced
        later = scrapes(base, 20)
        assert_added_up(later, REQUESTS)  # the killed worker's requests still counted
        assert (
            later[0][("ragsvc_http_requests_total", SCRAPES)]
            > seen[-1][("ragsvc_http_requests_total", SCRAPES)]
        )
        assert later[-1][("ragsvc_streams_open", frozenset())] == 0
    assert not Path(directory).exists()
