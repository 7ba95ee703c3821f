"""The sessions found a moment ago: trusted for RECHECK_S, never past their expiry, the
oldest forgotten past a count, one forgotten when deleted."""

from __future__ import annotations

from datetime import timedelta

from ragsvc.core.clock import now
from ragsvc.sessions.session_memo import SessionMemo
from ragsvc.storage.records import SessionMeta


def meta(name: str, ttl: timedelta = timedelta(hours=1)) -> SessionMeta:
    return SessionMeta.new(name * 64, ttl)


def test_a_session_is_trusted_until_the_recheck_then_looked_up_again():
    clock = [100.0]
    memo = SessionMemo(recheck_s=1.0, clock=lambda: clock[0])
    alice = meta("a")
    memo.put(alice)
    clock[0] = 100.99
    assert memo.get(alice.token_hash) == alice
    clock[0] = 101.0
    assert memo.get(alice.token_hash) is None


def test_an_expired_session_is_never_taken_from_memory():
    memo = SessionMemo()
    gone = meta("g").model_copy(update={"expires_at": now() - timedelta(seconds=1)})
    memo.put(gone)
    assert memo.get(gone.token_hash) is None


def test_past_its_count_the_session_found_longest_ago_is_forgotten():
    memo = SessionMemo(max_sessions=2)
    first, second, third = meta("1"), meta("2"), meta("3")
    for found in (first, second, third):
        memo.put(found)
    assert memo.get(first.token_hash) is None
    assert memo.get(second.token_hash) == second and memo.get(third.token_hash) == third


def test_a_forgotten_session_is_looked_up_again():
    memo = SessionMemo()
    alice = meta("a")
    memo.put(alice)
    memo.forget(alice.token_hash)
    assert memo.get(alice.token_hash) is None
