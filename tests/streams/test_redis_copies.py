"""Event logs copied to Redis (a real one: the `redis_url` fixture): a copied log is found
with its last sequence number, whether it has ended, and is followed from a sequence number
to its end; a log of another key or another session is not found. A batch of events is one
entry, followed exactly from inside it, by another replica's hub too; entries of one event
each (copied before batches) are still read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from ragsvc.streams import redis_copies
from ragsvc.streams.event_codec import encode_event
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import AnswerEvent, SourcesEvent, TokenEvent
from ragsvc.streams.log_hub import Limits, LogHub
from ragsvc.streams.redis_copies import RedisLogCopies

pytestmark = pytest.mark.anyio
ALICE, BOB = "a" * 64, "b" * 64  # session token hashes


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def copies(redis: Redis) -> RedisLogCopies[AnswerEvent]:
    return RedisLogCopies(redis, "answer", 60)


def stream(key: str) -> str:
    return f"ragsvc:{{{ALICE}}}:answer:{key}"


async def followed(
    copies: RedisLogCopies[AnswerEvent], key: str, after: int
) -> list[tuple[int, AnswerEvent]]:
    with anyio.fail_after(5):
        return [item async for batch in copies.follow(ALICE, key, after) for item in batch]


async def test_an_ended_log_is_located_and_followed_to_its_end(
    copies: RedisLogCopies[AnswerEvent],
):
    entry: EventLog[AnswerEvent] = EventLog("answer-1", ALICE)
    for event in (SourcesEvent([]), TokenEvent("Tides "), TokenEvent("rise\ntwice.")):
        entry.append(event)
    entry.finish()
    with anyio.fail_after(5):
        await copies.publish(entry)  # the log has ended: returns once it is copied
    assert await copies.located(ALICE, "answer-1") == (True, 2)
    assert await followed(copies, "answer-1", 0) == [
        (1, TokenEvent("Tides ")),
        (2, TokenEvent("rise\ntwice.")),
    ]
    assert await followed(copies, "answer-1", -1) == list(enumerate(entry.events))
    assert await followed(copies, "answer-1", 2) == []  # nothing after the last event


async def test_a_running_log_is_located_as_running_until_it_ends(
    copies: RedisLogCopies[AnswerEvent],
):
    entry: EventLog[AnswerEvent] = EventLog("answer-2", ALICE)
    entry.append(SourcesEvent([]))
    entry.append(TokenEvent("Tides "))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(copies.publish, entry)
            while await copies.located(ALICE, "answer-2") is None:
                await anyio.sleep(0.01)
            assert await copies.located(ALICE, "answer-2") == (False, 1)
            assert await copies.running(ALICE) == 1
            entry.append(TokenEvent("rise."))
            entry.finish()
    assert await copies.located(ALICE, "answer-2") == (True, 2)
    assert await copies.running(ALICE) == 0


async def test_copied_waits_no_longer_than_for_the_events_logged_so_far(
    copies: RedisLogCopies[AnswerEvent], monkeypatch: pytest.MonkeyPatch
):
    """`copied` cuts the first copy's wait short (here a minute) and returns once the
    stream holds every event logged before it was called; the copy then goes on."""
    monkeypatch.setattr(redis_copies, "COPY_AFTER_S", 60)
    entry: EventLog[AnswerEvent] = EventLog("answer-3", ALICE)
    entry.append(SourcesEvent([]))
    entry.append(TokenEvent("Tides "))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(copies.publish, entry)
            await copies.copied(entry)
            assert await copies.located(ALICE, "answer-3") == (False, 1)
            entry.append(TokenEvent("rise."))
            entry.finish()
    assert await copies.located(ALICE, "answer-3") == (True, 2)
    assert await followed(copies, "answer-3", -1) == list(enumerate(entry.events))


async def test_copied_returns_at_once_for_a_log_not_being_copied(
    copies: RedisLogCopies[AnswerEvent],
):
    entry: EventLog[AnswerEvent] = EventLog("answer-4", ALICE)
    entry.append(SourcesEvent([]))
    with anyio.fail_after(5):
        await copies.copied(entry)
    assert await copies.located(ALICE, "answer-4") is None


async def test_an_unknown_log_or_another_sessions_log_is_not_located(
    copies: RedisLogCopies[AnswerEvent],
):
    entry: EventLog[AnswerEvent] = EventLog("answer-3", ALICE)
    entry.append(TokenEvent("Tides "))
    entry.finish()
    with anyio.fail_after(5):
        await copies.publish(entry)
    assert await copies.located(ALICE, "answer-3") == (True, 0)
    assert await copies.located(ALICE, "answer-4") is None
    assert await copies.located(BOB, "answer-3") is None


TIDES = [SourcesEvent([]), TokenEvent("Tides "), TokenEvent("rise "), TokenEvent("twice.")]


async def test_a_batch_of_events_is_one_entry_followed_exactly_from_inside_it(
    copies: RedisLogCopies[AnswerEvent], redis: Redis
):
    entry: EventLog[AnswerEvent] = EventLog("answer-5", ALICE)
    for event in TIDES:
        entry.append(event)
    entry.finish()
    with anyio.fail_after(5):
        await copies.publish(entry)
    assert await redis.xlen(stream("answer-5")) == 1  # the events and their end, one XADD
    assert await copies.located(ALICE, "answer-5") == (True, 3)
    assert await followed(copies, "answer-5", 1) == [(2, TIDES[2]), (3, TIDES[3])]
    assert await followed(copies, "answer-5", 2) == [(3, TIDES[3])]
    assert await followed(copies, "answer-5", 3) == []  # the batch that ended the log
    assert await followed(copies, "answer-5", -1) == list(enumerate(TIDES))


class HeldAnswer:
    """Appends the first events, waits for `release`, appends the rest."""

    def __init__(self) -> None:
        self.started, self.release = anyio.Event(), anyio.Event()

    async def __call__(self, entry: EventLog[AnswerEvent]) -> None:
        for event in TIDES[:3]:
            entry.append(event)
        self.started.set()
        await self.release.wait()
        entry.append(TIDES[3])


def hub(copies: RedisLogCopies[AnswerEvent]) -> LogHub[AnswerEvent]:
    return LogHub[AnswerEvent](60, None, Limits(10, 10), copies=copies)


async def test_another_replica_resumes_from_inside_a_batch_and_follows_the_rest_live(
    copies: RedisLogCopies[AnswerEvent], redis: Redis
):
    working, other, work = hub(copies), hub(RedisLogCopies(redis, "answer", 60)), HeldAnswer()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(working.run, tasks)
            tasks.start_soon(other.run, tasks)
            await anyio.wait_all_tasks_blocked()
            entry = working.start("answer-6", ALICE, work)
            await work.started.wait()
            while (found := await other.locate("answer-6", ALICE)) is None:
                await anyio.sleep(0.01)
            assert found.local is None and (found.finished, found.last_seq) == (False, 2)
            assert await redis.xlen(stream("answer-6")) == 1  # sources and two tokens
            resumed = other.follow_located(found, 0)  # after the batch's first event
            assert await anext(resumed) == [(1, TIDES[1]), (2, TIDES[2])]
            work.release.set()
            assert [item async for batch in resumed for item in batch] == [(3, TIDES[3])]
            tasks.cancel_scope.cancel()
    assert entry.events == TIDES
    assert await redis.xlen(stream("answer-6")) == 2  # the last token with the end


async def test_entries_of_one_event_each_copied_before_batches_are_still_read(
    copies: RedisLogCopies[AnswerEvent], redis: Redis
):
    """A log copied by a replica of the previous version, met during a rolling update."""
    for seq, event in enumerate(TIDES):
        name, data = encode_event(event)
        await redis.xadd(stream("answer-7"), {"n": name, "d": data}, id=f"0-{seq + 1}")
    assert await copies.located(ALICE, "answer-7") == (False, 3)
    await redis.xadd(stream("answer-7"), {"end": b"1"}, id=f"0-{len(TIDES) + 1}")
    assert await copies.located(ALICE, "answer-7") == (True, 3)
    assert await followed(copies, "answer-7", 1) == [(2, TIDES[2]), (3, TIDES[3])]
    assert await followed(copies, "answer-7", 3) == []


async def test_a_log_kept_finished_at_once_is_copied_for_another_replica(
    copies: RedisLogCopies[AnswerEvent], redis_url: str
):
    events: list[AnswerEvent] = [SourcesEvent([]), TokenEvent("Ebb "), TokenEvent("and flow.")]
    hub = LogHub[AnswerEvent](60, None, Limits(8, 8), copies=copies)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(hub.run, tasks)
        async with hub.reserve(ALICE) as room:
            room.keep("answer-kept", events)
        with anyio.fail_after(5):
            while await copies.located(ALICE, "answer-kept") != (True, 2):
                await anyio.sleep(0.01)
        tasks.cancel_scope.cancel()
    assert await followed(copies, "answer-kept", -1) == list(enumerate(events))
