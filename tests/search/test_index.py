"""A session index hands back each chunk's stored vector by id, whatever order its chunks
were added in and after deletions."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.search.index import SessionIndex
from tests.search.test_approximate import DIM, add_document, unit


def test_vectors_are_found_by_id_after_deletions_and_parts_added_out_of_order():
    vectors = unit(np.random.default_rng(0), 30)
    index = SessionIndex("random", DIM)
    for number in range(3):
        add_document(index, f"d{number}", vectors[number * 10 : (number + 1) * 10])
    index.remove_document("d1")
    parts = [index.part(doc_id) for doc_id in reversed(index.document_ids())]
    loaded = SessionIndex.from_parts("random", DIM, index.next_id, parts)  # d2 first
    for source in (index, loaded):
        assert np.array_equal(source.vectors([25, 3, 29, 0]), vectors[[25, 3, 29, 0]])
        add_document(source, "d3", vectors[:2])
        assert np.array_equal(source.vectors([31, 9, 30]), vectors[[1, 9, 0]])


@pytest.mark.parametrize("missing", [15, 99, -1])
def test_a_chunk_not_in_the_index_has_no_vector(missing):
    index = SessionIndex("random", DIM)
    add_document(index, "d0", unit(np.random.default_rng(0), 20))
    index.remove_document("d0")
    add_document(index, "d1", unit(np.random.default_rng(1), 10))  # ids 20..29
    with pytest.raises(KeyError):
        index.vectors([25, missing])


def test_an_empty_index_has_no_vectors():
    index = SessionIndex("random", DIM)
    assert index.vectors([]).shape == (0, DIM)
    with pytest.raises(KeyError):
        index.vectors([0])
