"""The worker threads of a question's short blocking steps (session lookup, state and turns,
search, recording the turn), apart from anyio's default pool.

Under 200 concurrent answers the default pool ran up to 40 threads, and their fight for the
GIL cost more CPU than the steps themselves (server CPU per answer, `make load` saturation:
6.3 ms with 40 threads, 5.3 ms with two). Ingestion's long jobs stay in the default pool,
so they never hold these threads.

The hop itself is a C queue to the threads and `call_soon_threadsafe` back: anyio's
`to_thread.run_sync` (capacity limiter, cancel scope, a Python-level queue and condition)
cost 170-180 µs of CPU a hop against 34 µs for this one (`/work` scratch measurement, noted
in docs/design.md), and an answer takes two or three hops. Like anyio's, a caller cancelled
while its step runs waits for the step to end before it unwinds: steps hold locks and files.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Args = TypeVarTuple("Args")
QUICK_THREADS = 2  # one per core of the machines measured; a slow disk read stalls one only


class _QuickThreads:
    """QUICK_THREADS daemon threads taking jobs from one queue, started on first use."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._count = count
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        if len(self._threads) < self._count:
            self._start()
        self._jobs.put(job)

    def _start(self) -> None:
        with self._starting:
            while len(self._threads) < self._count:
                name = f"ragsvc-quick-{len(self._threads)}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            self._jobs.get()()


_THREADS = _QuickThreads(QUICK_THREADS)


async def run_quick(func: Callable[[*Args], T], *args: *Args) -> T:
    """`func(*args)` in one of the quick worker threads, in the caller's context (its
    request id is logged); a cancelled caller still waits for the step to end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def job() -> None:
        try:
            value = context.run(func, *args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, as anyio does
            _post(loop, _settle, done, None, error)
        else:
            _post(loop, _settle, done, value, None)

    _THREADS.submit(job)
    return await _uncancellable(done)


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop closed while the step ran: nobody waits for it
        pass


def _settle(done: asyncio.Future[T], value: T | None, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(value)  # type: ignore[arg-type]
    elif isinstance(error, StopIteration):  # a future refuses it (it would end a coroutine)
        done.set_exception(RuntimeError(f"a quick step raised {error!r}"))
    else:
        done.set_exception(error)


async def _uncancellable(done: asyncio.Future[T]) -> T:
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        await _ended(done)
        raise


async def _ended(done: asyncio.Future[T]) -> None:
    """Until `done` is settled, whatever cancellations come meanwhile (anyio delivers a
    scope's again and again)."""
    while not done.done():
        try:
            await asyncio.wait((done,))
        except asyncio.CancelledError:
            continue
