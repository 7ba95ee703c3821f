"""Shutting down without cutting answers short.

On SIGTERM (a rolling update, a scale-down, a node drain) or SIGINT the process drains:
`/readyz` answers 503 at once, no new answer or background ingest starts (503
`shutting-down`), answers and background ingests in flight go on for up to RAGSVC_DRAIN_S,
and whatever still runs then ends: an answer with an `error` event saying to ask again, an
ingest cancelled. uvicorn meanwhile stops accepting connections and waits for the open ones,
which then end too, so the process exits within the drain time and a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

import anyio

from ragsvc.core.errors import ShuttingDown

log = logging.getLogger(__name__)
POLL_S = 0.1
SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], None]


class Hub(Protocol):
    """What draining needs of a LogHub."""

    @property
    def running(self) -> int: ...
    def close(self) -> None: ...
    def stop_running(self, reason: Exception) -> int: ...


class Drain:
    """One process's drain: begun once, by a signal (or a test), then bounded in time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._begun = anyio.Event()
        self._over = anyio.Event()
        self._hubs: tuple[Hub, ...] = ()

    @property
    def draining(self) -> bool:
        return self._begun.is_set()

    def begin(self) -> None:
        """No new work from now on: the hubs close at once, not when `run` next wakes (a
        request that never waits, its session found in memory, would still start)."""
        if not self._begun.is_set():
            log.info("draining: no new work; work in flight has %.0f s to finish", self.seconds)
            for hub in self._hubs:
                hub.close()
            self._begun.set()

    async def run(self, *hubs: Hub) -> None:
        """Once begun: close every hub to new work, wait for the work in flight (answers,
        background ingests) up to the drain time, then stop what still runs."""
        self._hubs = hubs
        await self._begun.wait()
        for hub in hubs:
            hub.close()
        with anyio.move_on_after(self.seconds):
            while any(hub.running for hub in hubs):
                await anyio.sleep(POLL_S)
        stopped = sum(hub.stop_running(ShuttingDown(_STOPPED)) for hub in hubs)
        if stopped:
            log.warning("drain time over: stopped %d pieces of work still running", stopped)
        self._over.set()

    async def finished(self) -> None:
        """Once begun, wait for the drain to be over; return at once if it never began (the
        app stopped without a signal: a test's, say)."""
        if self.draining:
            await self._over.wait()


_STOPPED = "the server shut down before this finished; ask again (or upload again)"


@contextmanager
def drain_on_signals(drain: Drain) -> Iterator[None]:
    """Begin `drain` on SIGTERM/SIGINT, then let the handler installed before (uvicorn's:
    stop accepting, wait for open connections) run as well. Only the main thread receives
    signals: elsewhere (a server in a test's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    handle = _chained_handler(drain, previous)
    for sig in SIGNALS:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _chained_handler(drain: Drain, previous: dict[signal.Signals, Any]) -> Handler:
    loop = asyncio.get_running_loop()

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(drain.begin)  # a signal handler must not touch the loop
        chained = previous[signal.Signals(sig)]
        if callable(chained):
            chained(sig, frame)

    return handle
