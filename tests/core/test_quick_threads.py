"""Quick steps run in worker threads of their own: off the event loop's thread, their value
returned, their error raised, in their caller's context, at most QUICK_THREADS of them at
once, and a cancelled caller unwinding only once its step has ended."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from ragsvc.core.quick_threads import QUICK_THREADS, run_quick
from ragsvc.runtime.logging_setup import REQUEST_ID

pytestmark = pytest.mark.anyio


async def test_a_quick_step_runs_in_a_worker_thread_and_returns_its_value():
    loop_thread = threading.get_ident()

    def step(a: int, b: int) -> tuple[int, int]:
        return a + b, threading.get_ident()

    total, worker = await run_quick(step, 2, 3)
    assert total == 5 and worker != loop_thread


async def test_a_quick_steps_error_is_raised_to_its_caller():
    def fail() -> None:
        raise LookupError("no such session")

    with pytest.raises(LookupError, match="no such session"):
        await run_quick(fail)


async def test_a_quick_step_sees_its_callers_context_variables():
    REQUEST_ID.set("req-42")  # the worker thread's log lines carry the request's id
    assert await run_quick(REQUEST_ID.get) == "req-42"


async def test_a_cancelled_caller_unwinds_only_after_its_step_has_ended():
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def step() -> None:
        started.set()
        release.wait(5)
        ended.append("step")

    async def caller(scopes: list[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            try:
                await run_quick(step)
            finally:
                ended.append("caller")

    scopes: list[anyio.CancelScope] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(caller, scopes)
        await anyio.to_thread.run_sync(started.wait, 5)
        scopes[0].cancel()
        await anyio.sleep(0.05)  # the cancellation is delivered, again and again
        ended.append("released")
        release.set()
    assert ended == ["released", "step", "caller"]


async def test_a_step_raising_stop_iteration_reaches_its_caller_as_an_error():
    with pytest.raises(RuntimeError, match="StopIteration"):
        await run_quick(next, iter([]))


async def test_two_quick_steps_run_at_once_and_no_more():
    both = threading.Barrier(2, timeout=5)  # breaks unless two steps wait at the same time
    lock = threading.Lock()
    running, most = 0, 0

    def step() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        both.wait()
        time.sleep(0.05)  # still running while the next steps would start, were they let
        with lock:
            running -= 1

    async with anyio.create_task_group() as tasks:
        for _ in range(4):
            tasks.start_soon(run_quick, step)
    assert most == QUICK_THREADS
