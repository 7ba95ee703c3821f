"""A session's state as rows, on the machine's PostgreSQL in a schema of the test's own:
written then read back whole, a change writes what differs (documents and chunks gone
leave their rows), and every change bumps the session's generation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ragsvc.storage.postgres.migrate import migrate
from ragsvc.storage.postgres.state_rows import StateBefore, read_state, write_changes
from ragsvc.storage.records import SessionState
from tests.support.states import add_document, copy_of, remove_document, same_state

TOKEN_HASH = "a" * 64


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection on a migrated schema holding one session."""
    migrate(database_url)
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "INSERT INTO sessions (token_hash, created_at, expires_at, touched_at)"
            " VALUES (%s, now(), now() + interval '1 hour', now())",
            (TOKEN_HASH,),
        )
        yield connection


def changed(conn: psycopg.Connection[Any], before: SessionState, after: SessionState) -> None:
    with conn.transaction():
        write_changes(conn, TOKEN_HASH, StateBefore.of(before), after)


def rows(conn: psycopg.Connection[Any], table: str) -> int:
    query = f"SELECT count(*) FROM {table} WHERE token_hash = %s"
    return conn.execute(query, (TOKEN_HASH,)).fetchone()[0]  # type: ignore[index]


def generation(conn: psycopg.Connection[Any]) -> int:
    query = "SELECT generation FROM sessions WHERE token_hash = %s"
    return conn.execute(query, (TOKEN_HASH,)).fetchone()[0]  # type: ignore[index]


def test_a_state_reads_back_as_it_was_written(conn: psycopg.Connection[Any]):
    assert same_state(read_state(conn, TOKEN_HASH), SessionState())
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Text with a NUL\x00 from a PDF.")
    add_document(state, "d2", "Hawks soar.")
    changed(conn, SessionState(), state)
    again = read_state(conn, TOKEN_HASH)
    assert same_state(again, state) and list(again.documents) == ["d1", "d2"]  # upload order
    assert generation(conn) == 1


def test_a_change_writes_what_differs(conn: psycopg.Connection[Any]):
    first = SessionState()
    add_document(first, "d1", "Owls hunt at night.", "Owls nest in barns.")
    add_document(first, "d2", "Hawks soar.")
    changed(conn, SessionState(), first)
    second = copy_of(first)
    remove_document(second, "d1")
    add_document(second, "d3", "Kites hover.")
    changed(conn, first, second)
    assert same_state(read_state(conn, TOKEN_HASH), second)
    assert (rows(conn, "documents"), rows(conn, "chunks")) == (2, 2)
    assert generation(conn) == 2
    changed(conn, second, SessionState(dict(second.documents)))  # the index dropped
    assert read_state(conn, TOKEN_HASH).index is None and rows(conn, "chunks") == 0
