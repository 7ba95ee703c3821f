"""Past APPROXIMATE_FROM chunks dense search goes through an inverted file, which follows
the index through copies, uploads and deletions; deep searches stay exact."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.core.schemas import Chunk
from ragsvc.search import index as index_module
from ragsvc.search.index import SessionIndex

DIM = 32


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add_document(index: SessionIndex, name: str, vectors: np.ndarray) -> list[int]:
    ids = list(index.reserve_ids(len(vectors)))
    chunks = [Chunk(id=cid, document_id=name, page=1, text=f"chunk {cid}") for cid in ids]
    index.add(chunks, vectors, [[] for _ in ids])
    return ids


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> tuple[SessionIndex, np.ndarray]:
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 1_000)
    vectors = unit(np.random.default_rng(0), 2_000)
    index = SessionIndex("random", DIM)
    for number in range(4):
        add_document(index, f"d{number}", vectors[number * 500 : (number + 1) * 500])
    return index, vectors


def test_a_large_session_is_searched_through_an_inverted_file(large):
    index, vectors = large
    assert index._approximate is None  # trained when first needed, not before
    flat_only = index.nbytes
    assert index.dense_search(vectors[123], 1)[0][0] == 123
    assert index._approximate is not None
    assert index.nbytes > flat_only  # the session cache counts its copy of the vectors
    assert index.dense_search(vectors[1_777], 1)[0][0] == 1_777


def test_the_inverted_file_follows_uploads_and_deletions_of_a_copy(large):
    index, vectors = large
    index.dense_search(vectors[0], 5)
    twin = index.copy()
    new = unit(np.random.default_rng(1), 10)
    ids = add_document(twin, "new", new)
    assert twin.dense_search(new[3], 1)[0][0] == ids[3]
    assert index.dense_search(new[3], 1)[0][0] not in ids  # the published index unchanged
    twin.remove_document("d0")
    assert all(cid >= 500 for cid, _ in twin.dense_search(vectors[10], 50))


def test_deep_searches_stay_exact(large):
    index, vectors = large
    hits = index.dense_search(vectors[5], len(index))
    assert len(hits) == len(index)
    assert [cid for cid, _ in hits[:10]] == list(np.argsort(-(vectors @ vectors[5]))[:10])
