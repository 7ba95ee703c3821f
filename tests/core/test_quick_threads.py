"""Quick steps run in worker threads of their own: off the event loop's thread, their value
returned, their error raised, at most QUICK_THREADS of them at once."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from ragsvc.core.quick_threads import QUICK_THREADS, quick_limiter, run_quick

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


async def test_quick_steps_share_one_limiter_of_their_own_per_event_loop():
    limiter = quick_limiter()
    assert limiter is quick_limiter()
    assert limiter is not anyio.to_thread.current_default_thread_limiter()
    assert limiter.total_tokens == QUICK_THREADS == 2


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
