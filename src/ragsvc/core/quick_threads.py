"""The worker threads of a question's short blocking steps (session lookup, state and turns,
search, recording the turn), apart from anyio's default pool.

Under 200 concurrent answers the default pool ran up to 40 threads, and their fight for the
GIL cost more CPU than the steps themselves (server CPU per answer, `make load` saturation:
6.3 ms with 40 threads, 5.3 ms with two). Ingestion's long jobs stay in the default pool,
so they never hold these threads.

The hop itself is a C queue to the threads and `call_soon_threadsafe` back: anyio's
`to_thread.run_sync` (capacity limiter, cancel scope, a Python-level queue and condition)
cost two to three times as much CPU a hop (`bench/hop_cpu.py`). Like anyio's, a caller
cancelled while its step runs waits for the step to end before it unwinds: steps hold locks
and files.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, TypeVarTuple

T = TypeVar("T")
Args = TypeVarTuple("Args")
QUICK_THREADS = 2  # one per core of the machines measured; a slow disk read stalls one only


class Job(NamedTuple):
    """A step to run in a quick thread, and where its outcome goes."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    context: contextvars.Context  # the caller's: its request id is logged
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[Any]


class QuickThreads:
    """QUICK_THREADS daemon threads taking jobs from one queue, started on first use."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._count = count
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()

    def submit(self, job: Job) -> None:
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
            _run(self._jobs.get())


THREADS = QuickThreads(QUICK_THREADS)


async def run_quick(func: Callable[[*Args], T], *args: *Args) -> T:
    """`func(*args)` in one of the quick worker threads, in the caller's context (its
    request id is logged); a cancelled caller still waits for the step to end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()
    THREADS.submit(Job(func, args, contextvars.copy_context(), loop, done))
    return await _uncancellable(done)


def _run(job: Job) -> None:
    try:
        value = job.context.run(job.func, *job.args)
    except BaseException as error:  # handed to the caller, as anyio does
        _post(job.loop, _settle, job.done, None, error)
    else:
        _post(job.loop, _settle, job.done, value, None)


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
