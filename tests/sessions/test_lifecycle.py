"""A session's life on a real disk store: created a few times a minute per address, resolved
from its token, unknown tokens refused (and, past a budget, the address slowed down even for
a good token), deleted for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from ragsvc.core.clock import now
from ragsvc.core.errors import RateLimited, Unauthorized
from ragsvc.core.schemas import Turn
from ragsvc.sessions.lifecycle import SessionOptions, Sessions
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.sessions.session_memo import RECHECK_S, SessionMemo
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionMeta

pytestmark = pytest.mark.anyio
OPTIONS = SessionOptions(
    session_ttl=3600, session_rate_per_minute=2, failed_auth_per_minute=3, history_turns=2
)
ALICE, BOB = "10.0.0.1", "10.0.0.2"  # client addresses


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    store = DiskStore(tmp_path)
    try:
        yield Sessions(store, RateLimiter(), OPTIONS)
    finally:
        await store.aclose()


async def test_a_new_session_is_found_again_from_its_token(sessions: Sessions):
    made = await sessions.create(ALICE)
    assert made.meta.token_hash == hash_token(made.token)
    assert made.meta.expires_at - made.meta.created_at == timedelta(hours=1)
    assert await sessions.resolve(made.token, BOB) == made.meta  # from any address


async def test_creating_sessions_is_limited_per_address(sessions: Sessions, tmp_path: Path):
    await sessions.create(ALICE)
    await sessions.create(ALICE)
    with pytest.raises(RateLimited, match="session creation") as refused:
        await sessions.create(ALICE)
    assert refused.value.headers["Retry-After"]
    await sessions.create(BOB)  # another address has its own budget
    assert len(list((tmp_path / "sessions").iterdir())) == 3  # the refused one made nothing


async def test_an_unknown_token_is_unauthorized(sessions: Sessions):
    await sessions.create(ALICE)
    with pytest.raises(Unauthorized, match="unknown or expired session token"):
        await sessions.resolve("not-a-token", ALICE)


async def test_past_the_budget_of_unknown_tokens_an_address_is_refused_but_a_good_token(
    sessions: Sessions,
):
    good = (await sessions.create(ALICE)).token
    for _ in range(10):  # good tokens spend nothing
        await sessions.resolve(good, ALICE)
    for attempt in range(OPTIONS.failed_auth_per_minute):
        with pytest.raises(Unauthorized):
            await sessions.resolve(f"guess-{attempt}", ALICE)
    with pytest.raises(RateLimited, match="unknown session tokens"):
        await sessions.resolve("guess-again", ALICE)
    # someone else behind the same address (a NAT, a proxy) still gets in
    assert (await sessions.resolve(good, ALICE)).token_hash == hash_token(good)
    assert (await sessions.resolve(good, BOB)).token_hash == hash_token(good)


async def test_without_a_budget_unknown_tokens_are_never_rate_limited(tmp_path: Path):
    store = DiskStore(tmp_path)
    options = SessionOptions(3600, 2, failed_auth_per_minute=0, history_turns=2)
    sessions = Sessions(store, RateLimiter(), options)
    try:
        for attempt in range(20):
            with pytest.raises(Unauthorized):
                await sessions.resolve(f"guess-{attempt}", ALICE)
    finally:
        await store.aclose()


async def test_a_deleted_session_is_gone(sessions: Sessions):
    made = await sessions.create(ALICE)
    await sessions.delete(made.meta.token_hash)
    with pytest.raises(Unauthorized):
        await sessions.resolve(made.token, ALICE)


async def test_a_session_found_a_moment_ago_is_not_looked_up_again(tmp_path: Path):
    store = CountingStore(tmp_path)
    sessions = Sessions(store, RateLimiter(), OPTIONS)
    made = await sessions.create(ALICE)
    for _ in range(3):
        assert (await sessions.resolve(made.token, ALICE)).token_hash == made.meta.token_hash
    assert store.lookups == 1
    await sessions.delete(made.meta.token_hash)  # forgotten at once where it is deleted
    with pytest.raises(Unauthorized):
        await sessions.resolve(made.token, ALICE)
    await store.aclose()


async def test_a_session_deleted_by_another_process_is_refused_within_the_recheck(tmp_path: Path):
    clock = [0.0]
    here = Sessions(
        DiskStore(tmp_path), RateLimiter(), OPTIONS, SessionMemo(clock=lambda: clock[0])
    )
    elsewhere = Sessions(DiskStore(tmp_path), RateLimiter(), OPTIONS)
    made = await here.create(ALICE)
    await here.resolve(made.token, ALICE)
    await elsewhere.delete(made.meta.token_hash)
    clock[0] = RECHECK_S - 0.01
    await here.resolve(made.token, ALICE)  # still the moment it was found in
    clock[0] = RECHECK_S
    with pytest.raises(Unauthorized):
        await here.resolve(made.token, ALICE)
    for store in (here.store, elsewhere.store):
        await store.aclose()  # type: ignore[attr-defined]


class CountingStore(DiskStore):
    lookups = 0

    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        self.lookups += 1
        return await super().get_session(token_hash, ttl)


async def test_the_conversation_kept_is_the_last_turns(sessions: Sessions):
    token_hash = (await sessions.create(ALICE)).meta.token_hash
    for number in range(3):
        turn = Turn(question=f"q{number}", answer=f"a{number}", at=now())
        await sessions.store.add_turn(token_hash, turn, keep=10)
    assert [turn.question for turn in await sessions.turns(token_hash)] == ["q1", "q2"]
