"""A session's state as rows: documents (one JSON body each), chunks (text, vector, BM25
terms, written by COPY) and the index's metadata on the session's row; a change writes only
what differs from the state before it, and bumps the session's generation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from ragsvc.core.schemas import Chunk, Document
from ragsvc.search.index import SessionIndex
from ragsvc.storage.records import SessionState


@dataclass(frozen=True)
class StateBefore:
    """What a state held before a change: to write only the difference."""

    documents: dict[str, Document]
    chunk_ids: set[int]

    @classmethod
    def of(cls, state: SessionState) -> StateBefore:
        ids = set(state.index.chunks) if state.index is not None else set()
        return cls(dict(state.documents), ids)


def write_changes(
    conn: psycopg.Connection[Any], token_hash: str, before: StateBefore, state: SessionState
) -> None:
    """Write the documents and chunks that differ from `before`; bump the generation."""
    gone = [doc_id for doc_id in before.documents if doc_id not in state.documents]
    changed = [d for i, d in state.documents.items() if before.documents.get(i) != d]
    conn.execute("DELETE FROM documents WHERE token_hash = %s AND id = ANY(%s)", (token_hash, gone))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO documents (token_hash, id, body) VALUES (%s, %s, %s)"
            " ON CONFLICT (token_hash, id) DO UPDATE SET body = excluded.body",
            [(token_hash, d.id, d.model_dump_json().encode()) for d in changed],
        )
    index = state.index
    after = set(index.chunks) if index is not None else set()
    conn.execute(
        "DELETE FROM chunks WHERE token_hash = %s AND id = ANY(%s)",
        (token_hash, sorted(before.chunk_ids - after)),
    )
    if index is not None:
        _copy_chunks(conn, token_hash, index, sorted(after - before.chunk_ids))
    meta = None
    if index is not None:
        meta = json.dumps(
            {"embedder": index.embedder_name, "dim": index.dim, "next_id": index.next_id}
        )
    conn.execute(
        "UPDATE sessions SET generation = generation + 1, index_meta = %s WHERE token_hash = %s",
        (meta, token_hash),
    )


def _copy_chunks(
    conn: psycopg.Connection[Any], token_hash: str, index: SessionIndex, ids: list[int]
) -> None:
    if not ids:
        return
    vectors = index.vectors(ids).astype("<f4")
    tokens = index.tokens(ids)
    columns = "token_hash, id, document_id, chunk, vector, tokens"
    with conn.cursor() as cur, cur.copy(f"COPY chunks ({columns}) FROM STDIN") as copy:
        for row, chunk_id in enumerate(ids):
            chunk = index.chunks[chunk_id]
            copy.write_row(
                (
                    token_hash,
                    chunk_id,
                    chunk.document_id,
                    chunk.model_dump_json().encode(),
                    vectors[row].tobytes(),
                    tokens[row],
                )
            )


def read_state(conn: psycopg.Connection[Any], token_hash: str) -> SessionState:
    rows = conn.execute(
        "SELECT body FROM documents WHERE token_hash = %s ORDER BY position", (token_hash,)
    ).fetchall()
    documents = [Document.model_validate_json(body) for (body,) in rows]
    meta_row = conn.execute(
        "SELECT index_meta FROM sessions WHERE token_hash = %s", (token_hash,)
    ).fetchone()
    index = None
    if meta_row is not None and meta_row[0] is not None:
        index = _read_index(conn, token_hash, meta_row[0])
    return SessionState({d.id: d for d in documents}, index)


def _read_index(
    conn: psycopg.Connection[Any], token_hash: str, meta: dict[str, Any]
) -> SessionIndex:
    index = SessionIndex(meta["embedder"], meta["dim"])
    rows = conn.execute(
        "SELECT chunk, vector, tokens FROM chunks WHERE token_hash = %s ORDER BY id",
        (token_hash,),
    ).fetchall()
    if rows:
        chunks = [Chunk.model_validate_json(row[0]) for row in rows]
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4")
        index.add(chunks, vectors.reshape(len(rows), index.dim), [row[2] for row in rows])
    index.next_id = meta["next_id"]
    return index
