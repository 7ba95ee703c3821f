"""Leases as rows, on the machine's PostgreSQL in a schema of the test's own: a lease is
held by one process until released, and one handed over is taken over by another."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ragsvc.storage.postgres.migrate import migrate
from ragsvc.storage.postgres.row_leases import LeaseBook

TOKEN_HASH = "a" * 64


@pytest.fixture
def books(database_url: str) -> Iterator[tuple[LeaseBook, LeaseBook]]:
    """The lease books of two processes, on a session of the test's own."""
    migrate(database_url)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO sessions (token_hash, created_at, expires_at, touched_at)"
            " VALUES (%s, now(), now() + interval '1 hour', now())",
            (TOKEN_HASH,),
        )
    with ConnectionPool(database_url, min_size=1, max_size=2) as pool:
        ours, theirs = LeaseBook(pool), LeaseBook(pool)
        try:
            yield ours, theirs
        finally:
            ours.close()
            theirs.close()


def test_a_lease_is_held_by_one_process_until_released(books: tuple[LeaseBook, LeaseBook]):
    ours, theirs = books
    lease = ours.take(TOKEN_HASH, "doc1")
    with pytest.raises(BlockingIOError):
        theirs.take(TOKEN_HASH, "doc1")
    with pytest.raises(BlockingIOError):
        ours.take(TOKEN_HASH, "doc1")  # not twice by its own process either
    theirs.take(TOKEN_HASH, "doc2").release()  # another key is free
    lease.release()
    theirs.take(TOKEN_HASH, "doc1").release()


def test_a_lease_handed_over_is_taken_over_once(books: tuple[LeaseBook, LeaseBook]):
    ours, theirs = books
    assert theirs.take_over(TOKEN_HASH, "doc1") is None  # nothing to take over
    ours.take(TOKEN_HASH, "doc1").hand_over(60)
    with pytest.raises(BlockingIOError):
        ours.take(TOKEN_HASH, "doc1")  # kept alive for a worker
    taken = theirs.take_over(TOKEN_HASH, "doc1")
    assert taken is not None
    taken.release()
    assert theirs.take_over(TOKEN_HASH, "doc1") is None
