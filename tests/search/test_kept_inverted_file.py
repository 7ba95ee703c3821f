"""An inverted file kept: handed out past APPROXIMATE_FROM chunks with each chunk's list,
holding codes, not vectors, and an index loaded with it searches as the one stored,
untrained and, when the file holds its very chunks, encoding nothing again; else filled
again, from its kept lists or finding them again."""

from __future__ import annotations

from dataclasses import replace

import faiss
import numpy as np
import pytest

from ragsvc.search import inverted_file
from ragsvc.search.index import SessionIndex
from ragsvc.search.inverted_file import TrainedLists
from tests.search.test_approximate import DIM, add_document, large_index, unit


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> tuple[SessionIndex, np.ndarray]:
    return large_index(monkeypatch)


def no_training(vectors: np.ndarray) -> None:
    raise AssertionError("trained again")


def emptied(trained: TrainedLists) -> TrainedLists:
    """The same training holding no chunks (so not the ones loaded)."""
    file = faiss.deserialize_index(trained.file)
    file.reset()
    return replace(trained, file=faiss.serialize_index(file))


def searches_as(loaded: SessionIndex, index: SessionIndex, vectors: np.ndarray) -> bool:
    return all(
        loaded.dense_search(vectors[row], 10) == index.dense_search(vectors[row], 10)
        for row in [0, 777, 1_999]
    )


def test_an_index_loaded_with_its_file_searches_as_the_stored_one_encoding_nothing(
    large, monkeypatch: pytest.MonkeyPatch
):
    index, vectors = large
    trained = index.trained_lists()  # trained now: no question asked it yet
    assert trained is not None and trained.trained_on == len(index)
    parts = [index.part(doc_id) for doc_id in index.document_ids()]
    loaded = SessionIndex.from_parts("random", DIM, index.next_id, parts)
    monkeypatch.setattr(inverted_file, "_trained", no_training)
    for adding in ["add_core", "add_with_ids"]:
        monkeypatch.setattr(faiss.IndexIVFPQ, adding, no_training)
    loaded.restore_inverted_file(trained)
    assert searches_as(loaded, index, vectors)
    again = loaded.trained_lists()
    assert again is not None and again.trained_on == trained.trained_on
    assert np.array_equal(again.file, trained.file)


def test_a_file_not_holding_the_chunks_loaded_is_filled_again_untrained(
    large, monkeypatch: pytest.MonkeyPatch
):
    index, vectors = large
    trained = index.trained_lists()
    assert trained is not None
    parts = [index.part(doc_id) for doc_id in index.document_ids()]
    monkeypatch.setattr(inverted_file, "_trained", no_training)
    for lists in [trained.lists, trained.lists[:-1]]:  # kept, or not fitting: found again
        loaded = SessionIndex.from_parts("random", DIM, index.next_id, parts)
        loaded.restore_inverted_file(replace(emptied(trained), lists=lists))
        assert searches_as(loaded, index, vectors)
        again = loaded.trained_lists()
        assert again is not None and np.array_equal(again.file, trained.file)
        assert np.array_equal(again.lists, trained.lists)  # found again, the same lists


def test_the_kept_file_holds_codes_not_vectors(large):
    index, _ = large
    trained = index.trained_lists()
    assert trained is not None
    assert trained.file.nbytes < len(index) * DIM  # under a byte a dimension: not floats
    assert np.bincount(trained.lists).sum() == len(index)


def test_a_small_session_hands_out_no_training():
    index = SessionIndex("random", DIM)
    add_document(index, "d0", unit(np.random.default_rng(0), 20))
    assert index.trained_lists() is None and index._approximate is None


def test_an_older_kind_of_kept_training_is_dropped_and_trained_again(large):
    index, vectors = large
    parts = [index.part(doc_id) for doc_id in index.document_ids()]
    quantizer = faiss.IndexFlatL2(DIM)  # 8-bit codes, as releases before kept them
    older = faiss.IndexIVFScalarQuantizer(
        quantizer, DIM, 16, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    older.train(vectors)
    kept = TrainedLists(faiss.serialize_index(older), len(index), np.zeros(len(index), np.int32))
    loaded = SessionIndex.from_parts("random", DIM, index.next_id, parts)
    loaded.restore_inverted_file(kept)
    assert loaded._approximate is None
    assert loaded.dense_search(vectors[777], 10) == index.dense_search(vectors[777], 10)
    again = loaded.trained_lists()
    assert again is not None and not np.array_equal(again.file, kept.file)
