"""Terms as numbers: they give back the tokens they were made of, and a loaded session's
BM25 block built from several documents' numbers is the block of their tokens."""

from __future__ import annotations

import random

import numpy as np

from ragsvc.search.term_ids import TermIds, postings_of_parts
from tests.support.postings import postings_of

WORDS = [f"w{i}" for i in range(50)] + ["Ünïcode", "naïve", ""]


def tokens(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.choices(WORDS, k=rng.randint(0, 30)) for _ in range(count)]


def test_terms_as_numbers_give_back_their_tokens():
    for made in [tokens(1, 20), [], [[]], [[], ["a", "b", "a"], []]]:
        terms = TermIds.of(made)
        assert terms.tokens() == made and len(terms) == len(made)
        assert terms.ids.dtype == np.int32 and len(terms.vocabulary) == len(set(terms.vocabulary))


def test_a_block_built_from_documents_numbers_is_the_block_of_their_tokens():
    documents = [tokens(seed, count) for seed, count in [(2, 30), (3, 1), (4, 0), (5, 25)]]
    every = [terms for document in documents for terms in document]
    ids = np.arange(100, 100 + len(every), dtype=np.int64)
    built = postings_of_parts(ids, [TermIds.of(document) for document in documents])
    expected = postings_of(ids.tolist(), every)
    assert built.columns == expected.columns
    for name in ("starts", "ids", "counts", "lengths"):
        assert np.array_equal(getattr(built, name), getattr(expected, name)), name
    assert (built.chunks, built.total_length) == (expected.chunks, expected.total_length)


def test_no_documents_make_an_empty_block():
    block = postings_of_parts(np.zeros(0, np.int64), [])
    assert block.chunks == 0 and block.columns == {} and block.postings("w1") is None


def test_parts_joined_hold_their_chunks_terms_one_part_after_the_other():
    documents = [tokens(seed, count) for seed, count in [(6, 12), (7, 0), (8, 9)]]
    joined = TermIds.joined([TermIds.of(document) for document in documents])
    assert joined.tokens() == [terms for document in documents for terms in document]
    assert len(joined.vocabulary) == len(set(joined.vocabulary))
    assert [joined.length(row) for row in range(len(joined))] == [len(t) for t in joined.tokens()]
    assert [joined.row(row) for row in range(len(joined))] == joined.tokens()


def test_each_terms_chunks_are_counted_in_order():
    made = tokens(9, 40)
    terms = TermIds.of(made)
    counted = terms.counted()
    for place, term in enumerate(terms.vocabulary):
        run = slice(counted.starts[place], counted.starts[place + 1])
        expected = [(row, t.count(term)) for row, t in enumerate(made) if term in t]
        found = zip(counted.rows[run].tolist(), counted.counts[run].tolist(), strict=True)
        assert list(found) == expected
