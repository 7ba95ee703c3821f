"""The event log on its own, without HTTP: resuming from a sequence number, batches, grace
cancellation of abandoned work, admission per session and per process, eviction of finished
logs only, and logs kept per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import anyio
import pytest

from ragsvc.core.errors import Overloaded, TooMuchInProgress
from ragsvc.streams import event_log
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.log_hub import Limits, LogHub

pytestmark = pytest.mark.anyio


class Work:
    """Background work that appends what it is told to, records how it ended, and runs
    until released (or cancelled)."""

    def __init__(self, *events: str) -> None:
        self.events = events
        self.release = anyio.Event()
        self.started = anyio.Event()
        self.ended = anyio.Event()
        self.cancelled = False

    async def __call__(self, log: EventLog[str]) -> None:
        try:
            for event in self.events:
                log.append(event)
            self.started.set()
            await self.release.wait()
            log.append("last")
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        finally:
            self.ended.set()


def hub_of(grace_s: float | None = None, running: int = 100, per_owner: int = 100) -> LogHub[str]:
    return LogHub[str](window_s=60, grace_s=grace_s, limits=Limits(running, per_owner))


@asynccontextmanager
async def running(hub: LogHub[str]) -> AsyncIterator[LogHub[str]]:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(hub.run, tasks)
        await anyio.wait_all_tasks_blocked()
        yield hub
        tasks.cancel_scope.cancel()


async def collect(
    hub: LogHub[str], entry: EventLog[str], after: int
) -> list[list[tuple[int, str]]]:
    with anyio.fail_after(5):
        return [batch async for batch in hub.follow(entry, after)]


async def test_following_after_a_sequence_number_resumes_there_then_goes_live():
    async with running(hub_of()) as hub:
        work = Work("a", "b", "c")
        entry = hub.start("answer", "alice", work)
        await work.started.wait()
        async with anyio.create_task_group() as tasks:
            batches: list[list[tuple[int, str]]] = []

            async def follow() -> None:
                batches.extend(await collect(hub, entry, 0))

            tasks.start_soon(follow)
            await anyio.wait_all_tasks_blocked()
            work.release.set()
    assert batches == [[(1, "b"), (2, "c")], [(3, "last")]]
    assert entry.finished


async def test_what_is_logged_before_a_follower_runs_comes_in_one_batch():
    async with running(hub_of()) as hub:
        work = Work(*(f"token{i}" for i in range(40)))
        entry = hub.start("answer", "alice", work)
        await work.started.wait()
        work.release.set()
        await work.ended.wait()
        batches = await collect(hub, entry, -1)
    assert len(batches) == 1 and [seq for seq, _ in batches[0]] == list(range(41))


async def test_work_done_already_is_kept_finished_at_once_without_a_task():
    seen: list[str] = []
    hub = LogHub[str](window_s=60, grace_s=None, limits=Limits(100, 100), observe=seen.append)
    async with running(hub):
        async with hub.reserve("alice") as room:
            entry = room.keep("answer", ["a", "b", "c"])
        assert entry.finished and hub.running == 0  # nothing runs: no task was started
        assert await collect(hub, entry, -1) == [[(0, "a"), (1, "b"), (2, "c")]]
        assert await collect(hub, entry, 1) == [[(2, "c")]]  # resumable like any log
        located = await hub.locate("answer", "alice")
        assert located is not None and located.finished and located.last_seq == 2
    assert seen == ["a", "b", "c"]  # every event observed once (metrics)


async def test_what_is_logged_while_a_batch_is_sent_follows_it_even_once_finished():
    hub, entry = hub_of(), EventLog[str]("answer", "alice")
    entry.append("a")
    async with aclosing(hub.follow(entry, -1)) as batches:
        assert await anext(batches) == [(0, "a")]
        entry.append("b")  # while the follower's first batch was being sent
        entry.finish()
        assert [batch async for batch in batches] == [[(1, "b")]]


async def test_work_kept_finished_needs_no_cancel_scope_nor_wake_event(monkeypatch):
    hub = hub_of()
    async with running(hub):

        def refused() -> None:
            raise AssertionError("made for a log kept finished")

        monkeypatch.setattr(event_log.anyio, "CancelScope", refused)
        monkeypatch.setattr(event_log.anyio, "Event", refused)
        async with hub.reserve("alice") as room:
            entry = room.keep("answer", ["a", "b"])
        assert await collect(hub, entry, -1) == [[(0, "a"), (1, "b")]]


async def test_work_every_follower_left_is_cancelled_after_the_grace_period():
    async with running(hub_of(grace_s=0)) as hub:
        work = Work("a")
        entry = hub.start("answer", "alice", work)
        async with aclosing(hub.follow(entry, -1)) as batches:
            async for _ in batches:
                break  # the client goes away after the first batch
        with anyio.fail_after(5):
            await work.ended.wait()
    assert work.cancelled and entry.finished and entry.events == ["a"]


async def test_without_a_grace_period_work_outlives_its_followers():
    async with running(hub_of()) as hub:
        work = Work("a")
        entry = hub.start("ingest", "alice", work)
        async with aclosing(hub.follow(entry, -1)) as batches:
            async for _ in batches:
                break
        await anyio.wait_all_tasks_blocked()
        work.release.set()
        with anyio.fail_after(5):
            await work.ended.wait()
    assert not work.cancelled and entry.events == ["a", "last"]


async def test_a_session_past_its_share_is_refused_and_no_one_else_is_touched():
    async with running(hub_of(running=10, per_owner=2)) as hub:
        works = [Work(), Work(), Work()]
        for i, work in enumerate(works[:2]):
            async with hub.reserve("mallory") as room:
                room.start(f"m{i}", work)
        with pytest.raises(TooMuchInProgress):
            async with hub.reserve("mallory"):
                pass
        async with hub.reserve("alice") as room:
            room.start("a0", works[2])
        await anyio.wait_all_tasks_blocked()
        assert not any(work.ended.is_set() for work in works)
        for work in works:
            work.release.set()


async def test_a_full_process_refuses_new_work_and_cancels_none():
    async with running(hub_of(running=2, per_owner=2)) as hub:
        works = [Work(), Work()]
        for owner, work in zip(["alice", "bob"], works, strict=True):
            async with hub.reserve(owner) as room:
                room.start(owner, work)
        with pytest.raises(Overloaded):
            async with hub.reserve("mallory"):
                pass
        await anyio.wait_all_tasks_blocked()
        assert not any(work.ended.is_set() for work in works)
        works[0].release.set()
        with anyio.fail_after(5):
            await works[0].ended.wait()
        async with hub.reserve("mallory"):  # finished work makes room again
            pass
        works[1].release.set()


async def test_a_reservation_not_used_is_given_back():
    async with running(hub_of(running=1, per_owner=1)) as hub:
        with pytest.raises(RuntimeError):
            async with hub.reserve("alice"):
                raise RuntimeError("planning the answer failed")
        async with hub.reserve("alice"):
            pass


async def test_room_is_made_by_dropping_finished_logs_never_running_ones():
    hub = LogHub[str](window_s=60, grace_s=None, limits=Limits(2, 2, kept=2))
    async with running(hub):
        done, busy = Work(), [Work(), Work()]
        hub.start("done", "alice", done)
        done.release.set()
        with anyio.fail_after(5):
            await done.ended.wait()
        await anyio.wait_all_tasks_blocked()
        hub.start("busy0", "bob", busy[0])
        hub.start("busy1", "bob", busy[1])
        assert hub.find("done", "alice") is None  # the finished log made room
        assert hub.find("busy0", "bob") is not None and hub.find("busy1", "bob") is not None
        await anyio.wait_all_tasks_blocked()
        assert not any(work.ended.is_set() for work in busy)
        for work in busy:
            work.release.set()


async def test_a_log_is_found_only_by_the_session_that_owns_it():
    async with running(hub_of()) as hub:
        work = Work()
        entry = hub.start("answer", "alice", work)
        assert hub.find("answer", "alice") is entry
        assert hub.find("answer", "mallory") is None
        assert hub.find("another", "alice") is None
        work.release.set()


async def test_failing_work_still_finishes_its_log():
    async def broken(log: EventLog[str]) -> None:
        log.append("a")
        raise RuntimeError("boom")

    async with running(hub_of()) as hub:
        entry = hub.start("answer", "alice", broken)
        batches = await collect(hub, entry, -1)
    assert batches == [[(0, "a")]] and entry.finished
