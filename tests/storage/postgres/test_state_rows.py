"""A session's state as rows, on the machine's PostgreSQL in a schema of the test's own:
written then read back whole, a change writes what differs (documents and their parts gone
leave their rows), every change bumps the session's generation, and a session written as a
row per chunk (before parts) still reads, its next change rewriting it as parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ragsvc.search import index as index_module
from ragsvc.search import inverted_file
from ragsvc.search.index import SessionIndex
from ragsvc.storage.postgres.migrate import migrate
from ragsvc.storage.postgres.state_rows import StateBefore, read_state, write_changes
from ragsvc.storage.records import SessionState
from tests.search.test_kept_inverted_file import no_training
from tests.support.states import EMBEDDER, add_document, copy_of, remove_document, same_state

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
    assert (rows(conn, "documents"), rows(conn, "parts")) == (2, 2)
    assert generation(conn) == 2
    changed(conn, second, SessionState(dict(second.documents)))  # the index dropped
    assert read_state(conn, TOKEN_HASH).index is None and rows(conn, "parts") == 0


def test_a_part_unchanged_is_not_written_again(conn: psycopg.Connection[Any]):
    first = SessionState()
    add_document(first, "d1", "Owls hunt at night.")
    changed(conn, SessionState(), first)
    query = "SELECT xmin::text FROM parts WHERE token_hash = %s AND document_id = 'd1'"
    written = conn.execute(query, (TOKEN_HASH,)).fetchone()
    second = copy_of(first)
    add_document(second, "d2", "Hawks soar.")
    changed(conn, first, second)
    assert conn.execute(query, (TOKEN_HASH,)).fetchone() == written  # the same row version


def write_chunk_rows(conn: psycopg.Connection[Any], index: SessionIndex) -> None:
    """The index as rows of `chunks`, as the store wrote them before parts."""
    ids = sorted(index.chunks)
    vectors, tokens = index.vectors(ids).astype("<f4"), index.terms(ids).tokens()
    columns = "token_hash, id, document_id, chunk, vector, tokens"
    with conn.cursor() as cur, cur.copy(f"COPY chunks ({columns}) FROM STDIN") as copy:
        for row, chunk_id in enumerate(ids):
            chunk = index.chunks[chunk_id]
            body = chunk.model_dump_json().encode()
            copy.write_row(
                (TOKEN_HASH, chunk_id, chunk.document_id, body, vectors[row].tobytes(), tokens[row])
            )


def test_a_session_in_chunk_rows_still_reads_and_its_next_change_writes_parts(
    conn: psycopg.Connection[Any],
):
    state = SessionState()
    add_document(state, "d1", "Owls hunt at night.", "Ünïcode and a NUL\x00 from a PDF.")
    add_document(state, "d2", "Hawks soar.")
    changed(conn, SessionState(), state)
    assert state.index is not None
    with conn.transaction():  # as the store left it before parts
        conn.execute("DELETE FROM parts WHERE token_hash = %s", (TOKEN_HASH,))
        write_chunk_rows(conn, state.index)
    loaded = read_state(conn, TOKEN_HASH)
    assert same_state(loaded, state)
    later = copy_of(loaded)
    add_document(later, "d3", "Kites hover.")
    changed(conn, loaded, later)
    assert (rows(conn, "chunks"), rows(conn, "parts")) == (0, 3)
    assert same_state(read_state(conn, TOKEN_HASH), later)


def test_a_large_session_keeps_its_inverted_files_training_and_loads_untrained(
    conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 3)
    state = SessionState()  # 16 chunks at least: one a list of the inverted file
    add_document(state, "d1", *(f"Owls hunt mice number {n}." for n in range(10)))
    add_document(state, "d2", *(f"Hawks soar over hill {n}." for n in range(10)))
    changed(conn, SessionState(), state)  # trains it: no question did
    monkeypatch.setattr(inverted_file, "_trained", no_training)
    loaded = read_state(conn, TOKEN_HASH)
    assert state.index is not None and loaded.index is not None
    assert loaded.index._approximate is not None and same_state(loaded, state)
    query = EMBEDDER.embed_sync(["owls"])[0]
    assert loaded.index.dense_search(query, 2) == state.index.dense_search(query, 2)
