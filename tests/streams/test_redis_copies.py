"""Event logs copied to Redis (a real one: the `redis_url` fixture): a copied log is found
with its last sequence number, whether it has ended, and is followed from a sequence number
to its end; a log of another key or another session is not found."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import AnswerEvent, SourcesEvent, TokenEvent
from ragsvc.streams.redis_copies import RedisLogCopies

pytestmark = pytest.mark.anyio
ALICE, BOB = "a" * 64, "b" * 64  # session token hashes


@pytest.fixture
async def copies(redis_url: str) -> AsyncIterator[RedisLogCopies[AnswerEvent]]:
    redis = Redis.from_url(redis_url)
    try:
        yield RedisLogCopies(redis, "answer", 60)
    finally:
        await redis.aclose()


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
