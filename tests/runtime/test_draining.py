"""The drain: begun by a signal (the handler installed before still runs), it closes the hubs
to new work, waits for the answers in flight up to the drain time, then stops what runs."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

from ragsvc.core.errors import ShuttingDown
from ragsvc.runtime.draining import Drain, drain_on_signals

pytestmark = pytest.mark.anyio


class FakeHub:
    def __init__(self, running: int) -> None:
        self.running, self.closed = running, False
        self.stopped_with: Exception | None = None

    def close(self) -> None:
        self.closed = True

    def stop_running(self, reason: Exception) -> int:
        stopped, self.running = self.running, 0
        if stopped:
            self.stopped_with = reason
        return stopped


async def test_sigterm_begins_the_drain_and_the_earlier_handler_still_runs():
    seen: list[int] = []
    earlier = signal.signal(signal.SIGTERM, lambda sig, frame: seen.append(sig))
    try:
        drain = Drain(1)
        with drain_on_signals(drain):
            os.kill(os.getpid(), signal.SIGTERM)
            with anyio.fail_after(2):
                while not drain.draining:
                    await anyio.sleep(0.01)
        assert seen == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGTERM)  # the earlier handler is back alone
        assert seen == [signal.SIGTERM] * 2
    finally:
        signal.signal(signal.SIGTERM, earlier)


async def test_the_hubs_close_the_moment_the_drain_begins():
    # not on the drain task's next turn: a request that never waits would still start work
    answers = FakeHub(running=0)
    drain = Drain(60)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(drain.run, answers)
        await anyio.sleep(0.01)
        drain.begin()
        assert answers.closed
    assert drain.draining


async def test_work_that_ends_in_time_is_not_stopped():
    answers, ingests = FakeHub(running=1), FakeHub(running=2)
    drain = Drain(60)
    with anyio.fail_after(2):  # the drain ends with the work, not at its 60 s
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(drain.run, answers, ingests)
            drain.begin()
            await anyio.sleep(0.05)
            assert answers.closed and ingests.closed
            answers.running = 0  # the answer finished
            await anyio.sleep(0.3)
            assert not tasks.cancel_scope.cancel_called and ingests.stopped_with is None
            ingests.running = 0  # and the ingests
    assert answers.stopped_with is None and ingests.stopped_with is None


async def test_what_runs_past_the_drain_time_is_stopped_saying_to_ask_again():
    answers = FakeHub(running=3)
    drain = Drain(0.2)
    with anyio.fail_after(2):
        drain.begin()
        await drain.run(answers)
    assert answers.running == 0
    assert isinstance(answers.stopped_with, ShuttingDown)
    assert "ask again" in str(answers.stopped_with.problem().detail)


async def test_finished_waits_for_a_begun_drain_only():
    idle = Drain(60)
    with anyio.fail_after(1):
        await idle.finished()  # never begun: an app stopped without a signal
    drain, answers = Drain(0.2), FakeHub(running=1)
    drain.begin()
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(drain.run, answers)
            await drain.finished()
            assert answers.running == 0  # over only once the work was stopped
