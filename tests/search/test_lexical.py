"""BM25 kept per document: the scores are bm25s's over the whole session (same IDF and mean
length over every document), bit for bit, through adds and removals; adding a document
indexes that document only."""

from __future__ import annotations

import random

import bm25s
import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.search.lexical import Lexical
from tests.support.fakes import HashEmbedder
from tests.support.postings import postings_of

EMBEDDER = HashEmbedder()
WORDS = [f"w{i}" for i in range(60)]


def corpus(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.choices(WORDS, k=rng.randint(0, 40)) for _ in range(count)]


def bm25s_scores(tokens: list[list[str]], query: list[str]) -> np.ndarray:
    reference = bm25s.BM25()
    reference.index(tokens, show_progress=False)
    return reference.get_scores_from_ids(reference.get_tokens_ids(query))


def test_scores_are_bm25s_over_every_document_bit_for_bit_through_adds_and_removals():
    rng = random.Random(9)
    lexical, kept, start = Lexical(), {}, 0
    for number in range(12):
        tokens = corpus(number, rng.randint(1, 40))
        ids = list(range(start, start + len(tokens)))
        lexical.add(frozenset({f"d{number}"}), postings_of(ids, tokens))
        kept[f"d{number}"], start = (ids, tokens), start + len(tokens)
        if number % 4 == 3:  # a deletion now and then, of any document still there
            name = rng.choice(sorted(kept))
            ids, tokens = kept.pop(name)
            lexical.remove(name, ids, [len(t) for t in tokens])
        everything = sorted(
            pair for ids, tokens in kept.values() for pair in zip(ids, tokens, strict=True)
        )
        for query in (["w1", "w2", "w1"], ["w59", "w3", "nowhere"]):
            ours = lexical.scores(query, start)
            assert ours is not None
            assert ours.dtype == np.float32
            reference = bm25s_scores([t for _, t in everything], query)
            assert np.array_equal(ours[[i for i, _ in everything]], reference)
    assert lexical.scores(["nowhere"], start) is None
    assert len(lexical.segments) <= 4  # merged as it grew


def test_a_removed_document_leaves_the_statistics_of_the_rest():
    first, second = corpus(4, 20), corpus(5, 25)
    lexical = Lexical()
    lexical.add(frozenset({"a"}), postings_of(list(range(20)), first))
    lexical.add(frozenset({"b"}), postings_of(list(range(20, 45)), second))
    lexical.remove("a", list(range(20)), [len(t) for t in first])
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
    texts = [f"attention is all you need, part {n}" for n in range(10)]
    index = index_of({"a": texts})
    (kept,) = index._lexical.segments
    twin = index.copy()
    twin.add(
        [Chunk(id=twin.reserve_ids(1)[0], document_id="b", page=1, text="attention heads")],
        EMBEDDER.embed_sync(["attention heads"]),
    )
    assert twin._lexical.segments[0] is kept  # the larger document's postings, not rebuilt
    assert index._lexical.segments == (kept,)  # the published index is left as it was
    assert [cid for cid, _ in twin.lexical_search("attention heads", 3)][0] == 10
    assert index.unknown(["heads"]) == ["heads"]


def test_a_deleted_documents_terms_are_no_longer_known():
    index = index_of({"a": ["attention is all you need"], "b": ["convolutions everywhere"]})
    assert index.unknown(["convolutions", "attention"]) == []
    index.remove_document("b")
    assert index.unknown(["convolutions", "attention"]) == ["convolutions"]
    assert index.lexical_search("convolutions", 3) == []


def test_a_document_leaves_a_block_shared_with_others_as_a_session_loaded_whole_has():
    first, second = corpus(6, 15), corpus(7, 30)
    lexical = Lexical()
    lexical.add(frozenset({"a", "b"}), postings_of(list(range(45)), first + second))
    lexical.remove("a", list(range(15)), [len(t) for t in first])
    ours = lexical.scores(["w5", "w6", "w40"], 45)
    assert ours is not None
    assert not ours[:15].any()
    assert np.array_equal(ours[15:], bm25s_scores(second, ["w5", "w6", "w40"]))
    assert [segment.documents for segment in lexical.segments] == [frozenset({"b"})]


def reference_top(scores: np.ndarray, ids: list[int], k: int) -> list[tuple[int, float]]:
    """The top k of every chunk's score in id order, selected as lexical_search has always
    selected them (its ties included)."""
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[d], float(scores[d])) for d in top if scores[d] > 0]


def test_the_top_k_is_the_reference_selection_of_bm25s_scores_with_and_without_deletions():
    texts = {f"d{n}": [" ".join(words) for words in corpus(20 + n, 30)] for n in range(6)}
    index = index_of(texts)
    for deleted in (None, "d2"):  # ids 0..n-1 (read in place), then with a gap (gathered)
        if deleted:
            index.remove_document(deleted)
        kept = {name: lines for name, lines in texts.items() if name != deleted}
        ids = sorted(index.chunks)
        lines = [line for name in sorted(kept) for line in kept[name]]  # in id order
        for query in ("w1 w2 w1", "w59 w3", "w7"):
            reference = bm25s_scores([line.split() for line in lines], query.split())
            assert index.lexical_search(query, 10) == reference_top(reference, ids, 10)
