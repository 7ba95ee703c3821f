"""A session's state as rows: documents (one JSON body each), the index's parts (one row
per document: its chunks, vectors and BM25 terms in one record, storage/part_codec.py) and
the index's metadata on the session's row; a change writes only what differs from the state
before it, and bumps the session's generation. Sessions written before parts existed hold
a row per chunk (`chunks`): read as they are, rewritten as parts by their next change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from ragsvc.core.schemas import Chunk, Document
from ragsvc.search.index import DocumentPart, SessionIndex
from ragsvc.search.inverted_file import TrainedLists
from ragsvc.storage.memory import collection_paused
from ragsvc.storage.part_codec import decode, encode
from ragsvc.storage.records import SessionState


@dataclass(frozen=True)
class StateBefore:
    """What a state held before a change: to write only the difference."""

    documents: dict[str, Document]
    parts: dict[str, str]  # each document's part name, by document id

    @classmethod
    def of(cls, state: SessionState) -> StateBefore:
        parts = state.index.part_names() if state.index is not None else {}
        return cls(dict(state.documents), parts)


def write_changes(
    conn: psycopg.Connection[Any], token_hash: str, before: StateBefore, state: SessionState
) -> None:
    """Write the documents and parts that differ from `before`; bump the generation."""
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
    _write_parts(conn, token_hash, before.parts, index)
    meta: dict[str, Any] | None = None
    file = lists = None
    if index is not None:
        meta = {"embedder": index.embedder_name, "dim": index.dim, "next_id": index.next_id}
        if (trained := index.trained_lists()) is not None:
            meta["trained_on"] = trained.trained_on
            file, lists = trained.file.tobytes(), trained.lists.astype("<i4").tobytes()
    conn.execute(
        "UPDATE sessions SET generation = generation + 1, index_meta = %s, inverted_file = %s,"
        " lists = %s WHERE token_hash = %s",
        (None if meta is None else json.dumps(meta), file, lists, token_hash),
    )


def _write_parts(
    conn: psycopg.Connection[Any],
    token_hash: str,
    before: dict[str, str],
    index: SessionIndex | None,
) -> None:
    """Write the parts of documents new or changed since `before`, delete the others'; a
    session still in chunk rows is rewritten whole, as parts."""
    after = index.part_names() if index is not None else {}
    if conn.execute("DELETE FROM chunks WHERE token_hash = %s", (token_hash,)).rowcount:
        before = {}
    conn.execute(
        "DELETE FROM parts WHERE token_hash = %s AND NOT document_id = ANY(%s)",
        (token_hash, list(after)),
    )
    new = [(doc_id, name) for doc_id, name in after.items() if before.get(doc_id) != name]
    if index is None or not new:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parts (token_hash, document_id, newest, data) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (token_hash, document_id) DO UPDATE"
            " SET newest = excluded.newest, data = excluded.data",
            [
                (token_hash, doc_id, int(name.rsplit(".", 1)[1]), encode(index.part(doc_id)))
                for doc_id, name in new
            ],
        )


def read_state(conn: psycopg.Connection[Any], token_hash: str) -> SessionState:
    rows = conn.execute(
        "SELECT body FROM documents WHERE token_hash = %s ORDER BY position", (token_hash,)
    ).fetchall()
    documents = [Document.model_validate_json(body) for (body,) in rows]
    meta_row = conn.execute(
        "SELECT index_meta, inverted_file, lists FROM sessions WHERE token_hash = %s",
        (token_hash,),
    ).fetchone()
    index = None
    if meta_row is not None and meta_row[0] is not None:
        meta, file, lists = meta_row
        index = _read_index(conn, token_hash, meta)
        if file is not None:  # no training again, nor encoding the vectors again
            trained = TrainedLists(
                np.frombuffer(file, dtype=np.uint8),
                meta["trained_on"],
                np.frombuffer(lists, dtype="<i4"),
            )
            index.restore_inverted_file(trained)
    return SessionState({d.id: d for d in documents}, index)


def _read_index(
    conn: psycopg.Connection[Any], token_hash: str, meta: dict[str, Any]
) -> SessionIndex:
    with collection_paused():
        parts = _chunk_rows(conn, token_hash, meta["dim"])
        # bytea as it is, not as hex to decode; each row decoded as it comes, not the whole
        # session's records held twice at once (libpq's result and Python's bytes)
        with conn.cursor(binary=True) as cur:
            query = "SELECT data FROM parts WHERE token_hash = %s ORDER BY newest"
            parts += [decode(data) for (data,) in cur.stream(query, (token_hash,))]
        return SessionIndex.from_parts(meta["embedder"], meta["dim"], meta["next_id"], parts)


def _chunk_rows(conn: psycopg.Connection[Any], token_hash: str, dim: int) -> list[DocumentPart]:
    """The chunks of a session written before parts existed, as one part."""
    rows = conn.execute(
        "SELECT chunk, vector, tokens FROM chunks WHERE token_hash = %s ORDER BY id",
        (token_hash,),
    ).fetchall()
    if not rows:
        return []
    chunks = [Chunk.model_validate_json(row[0]) for row in rows]
    vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4")
    vectors = vectors.reshape(len(rows), dim)
    return [DocumentPart.of_tokens(chunks, vectors, [row[2] for row in rows])]
