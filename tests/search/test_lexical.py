"""BM25 kept per document: the scores are bm25s's over the whole session (same IDF and mean
length over every document), bit for bit, through adds and removals; adding a document
indexes that document only."""

from __future__ import annotations

import random

import bm25s
import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.search.lexical import Lexical, postings_of
from tests.support.fakes import HashEmbedder

EMBEDDER = HashEmbedder()
WORDS = [f"w{i}" for i in range(60)]


def corpus(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.choices(WORDS, k=rng.randint(0, 40)) for _ in range(count)]


def bm25s_scores(tokens: list[list[str]], query: list[str]) -> np.ndarray:
    reference = bm25s.BM25()
    reference.index(tokens, show_progress=False)
    return reference.get_scores_from_ids(reference.get_tokens_ids(query))


def test_scores_are_bm25s_over_every_document_bit_for_bit():
    documents = [corpus(seed, count) for seed, count in ((1, 30), (2, 7), (3, 50))]
    lexical, start = Lexical(), 0
    for number, tokens in enumerate(documents):
        lexical.add(f"d{number}", postings_of(list(range(start, start + len(tokens))), tokens))
        start += len(tokens)
    everything = [t for tokens in documents for t in tokens]
    for query in (["w1", "w2", "w1"], ["w59", "w3", "nowhere"], ["w7"]):
        ours = lexical.scores(query, start)
        assert ours is not None
        assert ours.dtype == np.float32
        assert np.array_equal(ours, bm25s_scores(everything, query))
    assert lexical.scores(["nowhere"], start) is None


def test_a_removed_document_leaves_the_statistics_of_the_rest():
    first, second = corpus(4, 20), corpus(5, 25)
    lexical = Lexical()
    lexical.add("a", postings_of(list(range(20)), first))
    lexical.add("b", postings_of(list(range(20, 45)), second))
    lexical.remove("a")
    ours = lexical.scores(["w5", "w6"], 45)
    assert ours is not None
    assert not ours[:20].any()
    assert np.array_equal(ours[20:], bm25s_scores(second, ["w5", "w6"]))


def index_of(documents: dict[str, list[str]]) -> SessionIndex:
    index = SessionIndex(EMBEDDER.name, 128)
    for document_id, texts in documents.items():
        chunks = [
            Chunk(id=i, document_id=document_id, page=1, text=t)
            for i, t in zip(index.reserve_ids(len(texts)), texts, strict=True)
        ]
        index.add(chunks, EMBEDDER.embed_sync([c.search_text for c in chunks]))
    return index


def test_adding_a_document_to_a_copy_indexes_that_document_only():
    index = index_of({"a": ["attention is all you need", "transformers use attention"]})
    kept = index._lexical.blocks["a"]
    twin = index.copy()
    twin.add(
        [Chunk(id=twin.reserve_ids(1)[0], document_id="b", page=1, text="attention heads")],
        EMBEDDER.embed_sync(["attention heads"]),
    )
    assert twin._lexical.blocks["a"] is kept  # the other document's block, not rebuilt
    assert "b" not in index._lexical.blocks  # the published index is left as it was
    assert [cid for cid, _ in twin.lexical_search("attention heads", 3)][0] == 2
    assert sorted(cid for cid, _ in index.lexical_search("attention heads", 3)) == [0, 1]


def test_a_deleted_documents_terms_are_no_longer_known():
    index = index_of({"a": ["attention is all you need"], "b": ["convolutions everywhere"]})
    assert index.unknown(["convolutions", "attention"]) == []
    index.remove_document("b")
    assert index.unknown(["convolutions", "attention"]) == ["convolutions"]
    assert index.lexical_search("convolutions", 3) == []
