"""A session index hands back each chunk's stored vector by id, whatever order its chunks
were added in and after deletions."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.core.schemas import Chunk
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


TEXTS = ["owls hunt", "owls sleep", "gulls fish", "hawks soar", "owls again", "gulls rest"]
BATCHES = [["owls", "owls"], ["gulls"], ["hawks"], ["owls", "gulls"]]  # documents, batch by batch


def batched_index(vectors: np.ndarray) -> SessionIndex:
    """Six chunks added in four batches: the last one ends "owls" and starts "gulls"."""
    index = SessionIndex("random", DIM)
    for batch in BATCHES:
        ids = index.reserve_ids(len(batch))
        made = zip(ids, batch, strict=True)
        chunks = [Chunk(id=i, document_id=d, page=1, text=TEXTS[i]) for i, d in made]
        index.add(chunks, vectors[ids.start : ids.stop])
    return index


def test_a_documents_terms_are_handed_back_whichever_way_its_chunks_came():
    vectors = unit(np.random.default_rng(2), 6)
    index = batched_index(vectors)
    expected = {"owls": [["owl", "hunt"], ["owl", "sleep"], ["owl", "again"]]}
    expected |= {"gulls": [["gull", "fish"], ["gull", "rest"]], "hawks": [["hawk", "soar"]]}
    loaded = SessionIndex.from_parts("random", DIM, index.next_id, map(index.part, expected))
    for source in (index, loaded):
        assert {d: source.part(d).terms.tokens() for d in expected} == expected
    hawks = index.part("hawks").terms
    assert index.terms([3]) is hawks  # a whole batch is handed back as it is, not made again
    fresh = SessionIndex("random", DIM)  # what is left, as if never anything else
    fresh.reserve_ids(6)
    fresh.add(
        [Chunk(id=i, document_id="d", page=1, text=TEXTS[i]) for i in (2, 3, 5)], vectors[[2, 3, 5]]
    )
    for source in (index, loaded):
        source.remove_document("owls")  # the BM25 statistics lose its chunks' terms
        assert source.lexical_search("gull soar owl", 5) == fresh.lexical_search("gull soar", 5)
