"""Ranking rules: fusion, diversification (MMR), bibliography entries weighted down, and the
cards of a global question first, the best matching document's first."""

from __future__ import annotations

import numpy as np
import pytest

from ragsvc.answer.question_shapes import is_global_question, requested_section
from ragsvc.core.schemas import Chunk
from ragsvc.search import retrieval
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Query, fuse, rank
from tests.support.fakes import HashEmbedder

EMBEDDER = HashEmbedder()


def build(texts: list[tuple[str, str]]) -> SessionIndex:
    chunks = [
        Chunk(id=i, document_id="d", page=i + 1, text=text, kind=kind)  # type: ignore[arg-type]
        for i, (text, kind) in enumerate(texts)
    ]
    index = SessionIndex(EMBEDDER.name, 128)
    index.reserve_ids(len(chunks))
    index.add(chunks, EMBEDDER.embed_sync([c.search_text for c in chunks]))
    return index


def top_pages(index: SessionIndex, question: str, k: int, mmr: float) -> list[int]:
    vectors = EMBEDDER.embed_sync([question])
    hits = rank(index, Query(question=question, top_k=k, mmr_lambda=mmr), vectors)
    return [hit.chunk.page for hit in hits]


def test_fusion_rewards_agreement():
    assert [cid for cid, _ in fuse([[(1, 0.9), (2, 0.8)], [(2, 5.0), (3, 4.0)]])][0] == 2


def test_mmr_skips_a_near_copy_for_a_different_passage():
    copy = "Positional encodings use sine and cosine functions of different frequencies."
    index = build(
        [
            (copy, "text"),
            (copy + " Indeed.", "text"),  # a near-copy, as overlapping chunks produce
            ("Learned positional embeddings gave nearly identical results to sinusoids.", "text"),
        ]
    )
    question = "How are positional encodings computed with sine and cosine functions?"
    assert top_pages(index, question, 2, mmr=1.0) == [1, 2]  # plain relevance: both copies
    assert top_pages(index, question, 2, mmr=0.5) == [1, 3]  # diversified


def test_bibliography_entries_are_weighted_down():
    # The entry matches the question better on both rankings; only its weight puts it second.
    entry = "Attention mechanisms in neural machine translation. Bahdanau et al. 2014."
    text = "Attention mechanisms improve neural translation."
    index = build([(entry, "references"), (text, "text")])
    question = "attention mechanisms in neural machine translation"
    assert [h[0] for h in fuse([index.lexical_search(question, 2)])] == [0, 1]
    assert top_pages(index, question, 2, mmr=1.0) == [2, 1]


def test_a_table_of_contents_is_weighted_down_like_a_bibliography():
    contents = (
        "1 Harbour tides and gauges .......... 3\n2 Tide gauges at dawn .......... 5\n"
        "3 Gauges in storms .......... 7"
    )
    text = "Tide gauges in the harbour drift at dawn."
    index = build([(contents, "text"), (text, "text")])
    question = "tide gauges in the harbour at dawn"
    assert [h[0] for h in fuse([index.lexical_search(question, 2)])] == [0, 1]
    assert top_pages(index, question, 2, mmr=1.0) == [2, 1]
    ellipsis = "Tide gauges in the harbour drift at dawn .... and at dusk."
    prose = build([(ellipsis, "text"), ("Gauges drift in storms.", "text")])
    assert top_pages(prose, question, 2, mmr=1.0) == [1, 2]  # one ellipsis is not contents


def test_a_global_question_puts_first_the_card_of_the_document_it_matches_best():
    documents = {
        "a": ("Tidy harbour notes.", ["Gauges sat on the harbour floor.", "Gulls nest in spring."]),
        # a card that says little: its passages tell what the document is about
        "b": ("Notes by H. W.", ["Tidy data has one variable per column.", "Tidy data is rare."]),
        "c": ("Notes.", ["Gulls and terns nest on cliffs.", "Terns fly far."]),
    }
    chunks = []
    for document_id, (card, texts) in documents.items():
        chunks.append(
            Chunk(id=len(chunks), document_id=document_id, page=1, text=card, kind="card")
        )
        chunks += [
            Chunk(id=len(chunks) + i, document_id=document_id, page=i + 2, text=t)
            for i, t in enumerate(texts)
        ]
    index = SessionIndex(EMBEDDER.name, 128)
    index.reserve_ids(len(chunks))
    index.add(chunks, EMBEDDER.embed_sync([c.search_text for c in chunks]))
    for question, first in [
        ("What is the tidy data paper about?", "b"),
        ("tldr: terns on cliffs", "c"),
    ]:
        query = Query(question=question, top_k=5, global_question=True, mmr_lambda=0.7)
        hits = rank(index, query, EMBEDDER.embed_sync([question]))
        assert [h.chunk.kind for h in hits[:3]] == ["card"] * 3
        assert hits[0].chunk.document_id == first, question


def test_vectors_come_back_by_chunk_id():
    index = build([("alpha beta", "text"), ("gamma delta", "text")])
    got = index.vectors([1, 0])
    assert np.allclose(got, EMBEDDER.embed_sync(["gamma delta", "alpha beta"]))


def test_a_query_whose_words_no_chunk_holds_matches_nothing_lexically():
    index = build([("Gulls nest on the cliffs in spring.", "text")])
    for query in ["0", "the of and", "zyxwvut", ""]:
        assert index.lexical_search(query, 5) == []


def test_a_name_is_unknown_unless_a_chunk_holds_it_or_spells_it_out():
    index = build(
        [
            ("Link it with the Affero General Public License at no cost.", "text"),
            ("Tune the radio in the Megahertz range; status 404 means not found.", "text"),
        ]
    )
    names = ["AGPL", "GPL", "MHz", "404", "418", "Hadoop", "LGPL", "kWh"]
    assert index.unknown(names) == ["418", "Hadoop", "LGPL", "kWh"]


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("Summarise section 3.2", "3.2"),
        ("Summarise the performance section.", "performance"),  # a full stop is no obstacle
        ("Can you walk me through the case study?", "case study"),
        ("Summarise the section on formal language definition.", "formal language definition"),
        ("What does the related work section say?", "related work"),
        ("What does P{Q}R mean?", None),
        ("How long did the sort take?", None),
    ],
)
def test_the_section_a_question_asks_about(question: str, section: str | None):
    assert requested_section(question) == section


@pytest.mark.parametrize(
    ("question", "is_global"),
    [
        ("What is this paper about?", True),
        ("What is the Tidy Data paper about?", True),  # the paper named, in several words
        ("What's Hoare's paper about?", True),
        ("Give me an overview", True),
        ("what is this form for?", True),  # a document that is not a paper, named by its kind
        ("what is this doc?", True),
        ("C'est quoi ce document ?", True),
        ("Qu'est-ce que ce rapport ?", True),
        ("De quoi parle ce guide ?", True),
        ("What is the learning rate?", False),
        ("What did they say about dropout?", False),
        ("What is this encoder's output size?", False),  # more than a kind of document
        ("c'est quoi le taux de retenue ?", False),
    ],
)
def test_global_questions(question: str, is_global: bool):
    assert is_global_question(question) is is_global


def test_fusion_sums_each_chunks_reciprocal_ranks_as_the_definition_does():
    rng = np.random.default_rng(7)
    for _ in range(200):
        rankings = [
            [(int(c), 0.0) for c in rng.choice(300, size=rng.integers(0, 60), replace=False)]
            for _ in range(rng.integers(0, 5))
        ]
        expected: dict[int, float] = {}
        for ranking in rankings:
            for position, (cid, _) in enumerate(ranking):
                expected[cid] = expected.get(cid, 0.0) + 1.0 / (60 + position + 1)
        assert fuse(rankings) == sorted(expected.items(), key=lambda hit: (-hit[1], hit[0]))


def test_the_weighted_hits_rank_reads_are_the_first_of_all_hits_weighed():
    # Weighing stops early; what it gives must be the head of every hit weighed and sorted.
    rng = np.random.default_rng(5)
    contents = "Introduction . . . . . . 1\nMethods . . . . . . . . 4\nResults . . . . . . 9"
    chunks = [
        Chunk(
            id=cid,
            document_id=f"d{cid % 4}",
            page=1,
            text=contents if cid % 7 == 0 else f"passage {cid}",
            kind="references" if cid % 5 == 0 else "text",
        )
        for cid in range(300)
    ]
    index = SessionIndex(EMBEDDER.name, 128)
    index.reserve_ids(len(chunks))
    index.add(chunks, EMBEDDER.embed_sync([c.text for c in chunks]))
    for _ in range(300):
        ids = rng.choice(300, size=int(rng.integers(0, 120)), replace=False)
        hits = [(int(cid), float(rng.integers(1, 6)) / 10) for cid in ids]  # many ties
        fused = sorted(hits, key=lambda hit: (-hit[1], hit[0]))
        query = Query(
            question="q",
            top_k=int(rng.integers(1, 40)),
            mmr_lambda=float(rng.choice([1.0, 0.7])),
            global_question=bool(rng.integers(2)),
            document_ids=[None, frozenset({"d0", "d2"})][int(rng.integers(2))],
        )
        every = sorted(
            (
                (cid, score * retrieval._weight(index.chunks[cid]))
                for cid, score in fused
                if query.wants(index.chunks[cid])
            ),
            key=lambda hit: (-hit[1], hit[0]),
        )
        read = max(retrieval.MMR_POOL, query.top_k) if query.mmr_lambda < 1 else query.top_k
        weighted = retrieval._weighted(index, query, fused)
        assert weighted == every[: len(every) if query.global_question else read]
