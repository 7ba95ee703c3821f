"""Metrics shared by the processes of `serve --workers N` (prometheus-client's multiprocess
mode), simulated in this process: each "worker" writes files of its own pid, a scrape on
any of them adds them all up; gauges are summed over the live workers, memory kept per
worker; a dead worker's gauges leave the sums, its counters stay; the supervisor's
directory is fresh, named in the environment, and removed at the end. The slow suite runs
a real `ragsvc serve --workers 2` (tests/system/test_metrics_across_workers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from ragsvc.runtime.metrics import Metrics
from ragsvc.runtime.shared_metrics import (
    DIRECTORY,
    forget_dead,
    render_shared,
    shared_by_workers,
    shared_dir,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
HEALTHZ = frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})


def parsed(text: bytes) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], Metrics]]:
    """Metrics as the worker of pid `pid` would have them, sharing `tmp_path`. A worker's
    values are created when used: use each before making the next."""
    monkeypatch.setenv(DIRECTORY, str(tmp_path))
    made = []

    def as_worker(pid: int) -> Metrics:
        value_class = values.MultiProcessValue(lambda: pid)
        monkeypatch.setattr(values, "ValueClass", value_class)
        made.append(value_class)
        return Metrics(shared_dir())

    yield as_worker
    for value_class in made:
        value_class.close_all_files()


def test_a_scrape_on_any_worker_adds_up_every_live_workers_metrics(
    worker: Callable[[int], Metrics], tmp_path: Path
):
    workers = {}
    for pid, served, busy in [(os.getppid(), 3, 2), (dead_pid(), 10, 100), (os.getpid(), 4, 5)]:
        metrics = workers[pid] = worker(pid)
        metrics.requests.labels("GET", "/healthz", "200").inc(served)
        metrics.gauge("ragsvc_answers_in_progress", "Answers", lambda busy=busy: busy)
        metrics.streams.inc()
        metrics.build_info(version="1", python="3", embedder="e", generator="g")
        metrics.share()  # as each worker does every second
    got = parsed(workers[os.getpid()].render())
    assert got[("ragsvc_http_requests_total", HEALTHZ)] == 17  # the dead worker's stay
    assert got[("ragsvc_answers_in_progress", frozenset())] == 7  # its gauges do not
    assert got[("ragsvc_streams_open", frozenset())] == 2
    build = frozenset({("version", "1"), ("python", "3"), ("embedder", "e"), ("generator", "g")})
    assert got[("ragsvc_build_info", build)] == 1
    memory = {
        dict(labels)["pid"] for name, labels in got if name == "process_resident_memory_bytes"
    }
    assert memory == {str(os.getppid()), str(os.getpid())}
    assert parsed(render_shared(str(tmp_path))) == got  # the same from the files alone


def test_a_dead_workers_gauges_go_when_found_dead(worker: Callable[[int], Metrics], tmp_path: Path):
    gone = dead_pid()
    metrics = worker(gone)
    metrics.gauge("ragsvc_answers_in_progress", "Answers", lambda: 4)
    metrics.share()
    assert any(tmp_path.glob(f"gauge_livesum_{gone}.db"))
    forget_dead(str(tmp_path))
    assert not any(tmp_path.glob(f"gauge_livesum_{gone}.db"))
    assert any(tmp_path.glob(f"counter_{gone}.db"))


@pytest.mark.anyio
async def test_a_worker_copies_its_gauges_every_second_and_takes_them_away_at_its_end(
    worker: Callable[[int], Metrics], tmp_path: Path
):
    metrics = worker(os.getpid())
    busy = [1]
    metrics.gauge("ragsvc_answers_in_progress", "Answers", lambda: busy[0])

    def seen() -> float | None:
        return parsed(render_shared(str(tmp_path))).get(("ragsvc_answers_in_progress", frozenset()))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(metrics.keep_shared, 0.01)
        with anyio.fail_after(5):
            while seen() != 1:
                await anyio.sleep(0.01)
            busy[0] = 3
            while seen() != 3:  # copied without any scrape on this worker
                await anyio.sleep(0.01)
        tasks.cancel_scope.cancel()  # the app's end
    assert seen() is None


@pytest.mark.anyio
async def test_a_single_process_shares_nothing():
    metrics = Metrics()
    assert metrics.shared is None
    with anyio.fail_after(1):
        await metrics.keep_shared(0.01)  # returns at once
    assert b"process_resident_memory_bytes " in metrics.render()  # no pid label


def test_a_supervisor_of_several_workers_gets_a_fresh_directory_removed_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv(DIRECTORY, raising=False)
    with shared_by_workers(1) as none:
        assert none is None and shared_dir() is None
    with shared_by_workers(2) as path:
        assert path is not None and shared_dir() == path
        assert Path(path).is_dir() and not any(Path(path).iterdir())
        (Path(path) / "counter_1.db").write_bytes(b"")
    assert not Path(path).exists() and DIRECTORY not in os.environ
