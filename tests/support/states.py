"""Session states for the storage tests: documents, and an index of their chunks embedded
by the hashing embedder."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from ragsvc.core.schemas import Chunk, Document
from ragsvc.search.index import SessionIndex
from ragsvc.storage.records import SessionState
from tests.support.fakes import HashEmbedder

EMBEDDER = HashEmbedder()
CREATED = datetime(2026, 1, 1, tzinfo=UTC)  # fixed: states built twice compare equal


def document(doc_id: str, chunks: int = 0) -> Document:
    return Document(
        id=doc_id,
        filename=f"{doc_id}.pdf",
        sha256=doc_id.ljust(64, "0"),
        size=100,
        pages=1,
        chunks=chunks,
        status="ready",
        created_at=CREATED,
    )


def add_document(state: SessionState, doc_id: str, *texts: str) -> None:
    """Put a document and its chunks, one per text, into the state (an index made if need be)."""
    if state.index is None:
        state.index = SessionIndex(EMBEDDER.name, 128)
    ids = state.index.reserve_ids(len(texts))
    chunks = [
        Chunk(id=cid, document_id=doc_id, page=1, text=text)
        for cid, text in zip(ids, texts, strict=True)
    ]
    state.index.add(chunks, EMBEDDER.embed_sync(list(texts)))
    state.documents[doc_id] = document(doc_id, len(texts))


def remove_document(state: SessionState, doc_id: str) -> None:
    del state.documents[doc_id]
    if state.index is not None:
        state.index.remove_document(doc_id)


def copy_of(state: SessionState) -> SessionState:
    """A copy to change, as a store's update makes one."""
    index = state.index.copy() if state.index is not None else None
    return SessionState(dict(state.documents), index)


def same_state(a: SessionState, b: SessionState) -> bool:
    """Whether two states hold the same documents and the same index (chunks, vectors,
    BM25 terms, next id)."""
    if a.documents != b.documents or (a.index is None) != (b.index is None):
        return False
    if a.index is None or b.index is None:
        return True
    ids = sorted(a.index.chunks)
    return (
        (a.index.embedder_name, a.index.dim, a.index.next_id)
        == (b.index.embedder_name, b.index.dim, b.index.next_id)
        and a.index.chunks == b.index.chunks
        and np.array_equal(a.index.vectors(ids), b.index.vectors(ids))
        and a.index.terms(ids).tokens() == b.index.terms(ids).tokens()
    )
