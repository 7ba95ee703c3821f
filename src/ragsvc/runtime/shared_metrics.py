"""Metrics shared by the processes of `ragsvc serve --workers N`: prometheus-client's
multiprocess mode, so a scrape that lands on any worker reports them all, and a counter
never jumps back when the next scrape lands on another.

The supervisor makes a fresh directory and names it in PROMETHEUS_MULTIPROC_DIR before the
workers start (prometheus-client reads the variable when it is imported); each worker
writes its values to files of its own there, and the worker answering a scrape adds up
every worker's files. The directory goes when the supervisor exits.

A gauge read when scraped (a callback) cannot be read from another process, so each worker
copies its gauges to its files once a second, and at once when it answers a scrape: work
in progress, cache bytes and pool sizes are summed over the live workers (`livesum`); the
build info is the same in each (`livemax`); memory, CPU and open files (prometheus-client's
ProcessCollector, which the multiprocess mode does not collect) are kept per worker with a
`pid` label (`liveall`). A worker's gauges leave the sums when it exits, or at the next
scrape once it is found dead (killed); its counters and histograms stay counted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_by_workers(workers: int) -> Iterator[str | None]:
    """For a supervisor of `workers` processes (more than one): a fresh directory, named in
    the environment the workers inherit, removed at the end; None for a single process."""
    if workers <= 1:
        yield None
        return
    kept = os.environ.get(DIRECTORY)
    with tempfile.TemporaryDirectory(prefix="ragsvc-metrics-") as path:
        os.environ[DIRECTORY] = path
        try:
            yield path
        finally:
            if kept is None:
                os.environ.pop(DIRECTORY, None)
            else:
                os.environ[DIRECTORY] = kept


def shared_dir() -> str | None:
    """The directory this process shares its metrics in, if it runs under a supervisor."""
    return os.environ.get(DIRECTORY) or None


def render_shared(path: str) -> bytes:
    """Every process's metrics, added up, in Prometheus's text format."""
    forget_dead(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_dead(path: str) -> None:
    """Take the gauges of processes no longer alive (a killed worker) out of the sums."""
    pids = {file.stem.rpartition("_")[2] for file in Path(path).glob("gauge_live*_*.db")}
    for pid in pids:
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def forget_process(path: str) -> None:
    """This process is leaving: its gauges leave the sums (its counters stay)."""
    mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class ProcessMirror:
    """This process's memory, CPU and open files, copied to gauges of its own (`pid`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._collector = ProcessCollector(registry=None)
        self._registry = registry
        self._gauges: dict[str, Gauge] = {}

    def copy(self) -> None:
        for family in self._collector.collect():
            for sample in family.samples:
                gauge = self._gauges.get(sample.name)
                if gauge is None:
                    gauge = self._gauges[sample.name] = Gauge(
                        sample.name,
                        family.documentation,
                        multiprocess_mode="liveall",
                        registry=self._registry,
                    )
                gauge.set(sample.value)
