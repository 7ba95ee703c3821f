"""Past APPROXIMATE_FROM chunks dense search goes through an inverted file, which follows
the index through copies, uploads and deletions; its hits are scored exactly, and deep
searches stay exact."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pymupdf  # noqa: F401  (it registers SWIG vector types that faiss.Kmeans trips on)
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


def large_index(monkeypatch: pytest.MonkeyPatch) -> tuple[SessionIndex, np.ndarray]:
    """2,000 chunks in four documents, searched through an inverted file from 1,000 on."""
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 1_000)
    vectors = unit(np.random.default_rng(0), 2_000)
    index = SessionIndex("random", DIM)
    for number in range(4):
        add_document(index, f"d{number}", vectors[number * 500 : (number + 1) * 500])
    return index, vectors


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> tuple[SessionIndex, np.ndarray]:
    return large_index(monkeypatch)


def test_a_large_session_is_searched_through_an_inverted_file(large):
    index, vectors = large
    assert index._approximate is None  # trained when first needed, not before
    flat_only = index.nbytes
    assert index.dense_search(vectors[123], 1)[0][0] == 123
    assert index._approximate is not None
    assert index.nbytes == flat_only + len(index) * DIM // 2  # and its codes, kept and packed
    assert index.dense_search(vectors[1_777], 1)[0][0] == 1_777


def test_the_inverted_file_follows_uploads_and_deletions_of_a_copy(large):
    index, vectors = large
    index.dense_search(vectors[0], 5)
    twin = index.copy()
    twin.dense_search(vectors[0], 5)  # its scanned form made: changes must remake it
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


def test_the_inverted_files_hits_carry_exact_scores_best_first_ties_by_id(large):
    index, vectors = large
    query = vectors[42] + vectors[900]
    hits = index.dense_search(query / np.linalg.norm(query), 20)
    assert len(hits) == 20
    for cid, score in hits:
        assert score == pytest.approx(float(vectors[cid] @ (query / np.linalg.norm(query))))
    assert hits == sorted(hits, key=lambda hit: (-hit[1], hit[0]))


def test_faiss_threads_wait_asleep_between_searches():
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    probe = "import os, ragsvc.search.index; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True)
    assert out.stdout.decode().strip() == "PASSIVE", out.stderr.decode()[-500:]


def test_recall_at_10_against_flat_search_for_questions_away_from_the_passages(monkeypatch):
    # As with real embeddings: vectors share a common direction, in clusters, and the
    # questions sit apart from them, their best scores close together.
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM", 1_000)
    rng = np.random.default_rng(3)
    common, centres = unit(rng, 1)[0], unit(rng, 40)
    raw = 2 * common + centres[rng.integers(40, size=4_000)] + 0.6 * unit(rng, 4_000)
    vectors = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)
    index = SessionIndex("random", DIM)
    for number in range(8):
        add_document(index, f"d{number}", vectors[number * 500 : (number + 1) * 500])
    questions = unit(rng, 200)
    found = 0
    for question in questions:
        flat = set(np.argsort(-(vectors @ question))[:10].tolist())
        found += len(flat & {cid for cid, _ in index.dense_search(question, 10)})
    assert found / (10 * len(questions)) >= 0.99
