"""The cache of loaded session states: kept by session and version, the least recently used
dropped past a budget of bytes, never the state just kept."""

from __future__ import annotations

from ragsvc.storage.records import SessionState
from ragsvc.storage.session_cache import SessionCache
from tests.support.states import document

KB = 1024  # what SessionState.nbytes counts per document


def state_of(documents: int) -> SessionState:
    """A state of `documents` KB."""
    return SessionState({f"d{i}": document(f"d{i}") for i in range(documents)})


def test_the_least_recently_used_state_is_dropped_past_the_budget():
    cache = SessionCache(max_bytes=3 * KB)
    a, b, c, d = state_of(1), state_of(1), state_of(1), state_of(1)
    for name, state in [("a", a), ("b", b), ("c", c)]:
        cache.put(name, "v1", state)
    assert cache.bytes == 3 * KB
    assert cache.get("a", "v1") is a  # a is used: b is now the least recently used
    cache.put("d", "v1", d)
    assert cache.get("b", "v1") is None
    assert (cache.get("a", "v1"), cache.get("c", "v1"), cache.get("d", "v1")) == (a, c, d)
    assert cache.bytes == 3 * KB


def test_a_state_larger_than_the_budget_is_still_kept():
    cache = SessionCache(max_bytes=2 * KB)
    small, big = state_of(1), state_of(5)
    cache.put("small", "v1", small)
    cache.put("big", "v1", big)
    assert cache.get("big", "v1") is big and cache.get("small", "v1") is None
    assert cache.bytes == 5 * KB


def test_a_changed_version_is_a_miss_and_replaces_the_old_one():
    cache = SessionCache(max_bytes=10 * KB)
    old, new = state_of(1), state_of(2)
    cache.put("a", "gen-1", old)
    assert cache.get("a", "gen-2") is None
    cache.put("a", "gen-2", new)
    assert cache.get("a", "gen-1") is None and cache.get("a", "gen-2") is new
    assert cache.bytes == 2 * KB  # the old version no longer counts


def test_a_dropped_session_is_forgotten():
    cache = SessionCache(max_bytes=10 * KB)
    cache.put("a", "v1", state_of(3))
    cache.drop("a")
    cache.drop("never kept")
    assert cache.get("a", "v1") is None and cache.bytes == 0
