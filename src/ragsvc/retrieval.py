"""Question (+ recent turns) -> ranked chunks, by dense and BM25 search fused with RRF.

Follow-ups ("and how does it compare to o1?") carry little to search with on their own, so
the previous question is searched along with the current one and both rankings are fused:
a real follow-up gains from the context, a change of topic still ranks on its own words.
Global questions ("what is this paper about?") are answered from each document's card.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import anyio

from ragsvc.embeddings import Embedder, Vectors
from ragsvc.index import Hit, SessionIndex
from ragsvc.schemas import Chunk

_SECTION_NUMBER = re.compile(r"\bsection\s+(\d+(?:\.\d+)*|[A-Z])\b", re.IGNORECASE)
_SECTION_NAME = re.compile(
    r"\b(?:summar(?:y of|i[sz]e)|overview of|what does)\s+(?:the\s+)?"
    r"([a-z][\w -]{2,40}?)(?:\s+section)?(?:\s+say)?\s*\??$",
    re.IGNORECASE,
)
RRF_K = 60
MMR_POOL = 30  # fused hits that diversification chooses from
REFERENCES_WEIGHT = 0.5  # bibliography entries match many words yet rarely answer anything
Mode = Literal["hybrid", "dense", "bm25"]
_GLOBAL = re.compile(
    r"what(?:'s| is| are)\s+(?:this|the|these|that)\s+(?:\w+\s+)?about"
    r"|\bsummar(?:y|ise|ize|ising|izing)\b|\boverview\b|\btl;?dr\b|\bgist\b"
    r"|\bmain\s+(?:idea|contribution|point|finding|topic|goal|result)s?\b"
    r"|\bkey\s+(?:idea|contribution|point|finding|takeaway)s?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float


def is_global_question(question: str) -> bool:
    return bool(_GLOBAL.search(question))


def requested_section(question: str) -> str | None:
    """The section a question asks about: "section 3.2" gives "3.2"; "summarise the
    related work" gives "related work" (used only if some section title contains it)."""
    if match := _SECTION_NUMBER.search(question):
        return match.group(1)
    if match := _SECTION_NAME.search(question.strip()):
        return match.group(1).strip()
    return None


def section_hits(
    index: SessionIndex, section: str, top_k: int, document_ids: set[str] | None
) -> list[Retrieved]:
    """Passages of the requested section (and its subsections) in document order: first
    one from each subsection, for coverage, then the rest; empty if none matches."""
    if not re.fullmatch(r"\d+(\.\d+)*|[A-Z]", section):
        section = _number_of_named(index, section) or section
    if re.fullmatch(r"\d+(\.\d+)*|[A-Z]", section):
        numbered = re.compile(rf"^{re.escape(section)}(?=[.\s]|$)")

        def matches(title: str) -> bool:
            return bool(numbered.match(title))
    else:
        named = re.compile(rf"\b{re.escape(section)}\b", re.IGNORECASE)

        def matches(title: str) -> bool:
            return bool(named.search(title))

    chunks = sorted(
        (
            c
            for c in index.chunks.values()
            if c.section and c.kind == "text" and matches(c.section)
            and (document_ids is None or c.document_id in document_ids)
        ),
        key=lambda c: (c.document_id, c.page, c.id),
    )  # fmt: skip
    openers = {c.section: c for c in reversed(chunks)}  # the first chunk of each section
    first = [c for c in chunks if openers.get(c.section) is c]
    rest = [c for c in chunks if openers.get(c.section) is not c]
    return [Retrieved(c, 1.0) for c in (first + rest)[:top_k]]


def search_queries(question: str, previous_questions: list[str]) -> list[str]:
    """The question alone, plus the question joined with the last one when there is history."""
    queries = [question]
    if previous_questions:
        queries.append(f"{previous_questions[-1]} {question}")
    return queries


async def retrieve(
    index: SessionIndex,
    embedder: Embedder,
    question: str,
    previous_questions: list[str],
    top_k: int,
    document_ids: set[str] | None = None,
    global_question: bool = False,
    mode: Mode = "hybrid",
    mmr_lambda: float = 1.0,
) -> list[Retrieved]:
    """Top `top_k` chunks for the question, restricted to `document_ids` when given."""
    queries = search_queries(question, previous_questions)
    vectors = await embedder.embed(queries)
    return await anyio.to_thread.run_sync(
        rank, index, queries, vectors, top_k, document_ids, global_question, mode, mmr_lambda
    )


def rank(
    index: SessionIndex,
    queries: list[str],
    vectors: Vectors,
    top_k: int,
    document_ids: set[str] | None,
    global_question: bool,
    mode: Mode = "hybrid",
    mmr_lambda: float = 1.0,
) -> list[Retrieved]:
    """Blocking part of `retrieve`: search, fuse, filter, put cards first for global questions."""
    # A filter can exclude most of the top hits; then every chunk must be a candidate.
    depth = len(index) if document_ids else max(50, top_k * 10)
    rankings: list[list[Hit]] = []
    for query, vector in zip(queries, vectors, strict=True):
        if mode != "bm25":
            rankings.append(index.dense_search(vector, depth))
        if mode != "dense":
            rankings.append(index.lexical_search(query, depth))

    def wanted(chunk: Chunk) -> bool:
        return document_ids is None or chunk.document_id in document_ids

    fused = [
        (cid, score * (REFERENCES_WEIGHT if index.chunks[cid].kind == "references" else 1.0))
        for cid, score in fuse(rankings)
        if wanted(index.chunks[cid])
    ]
    fused.sort(key=lambda hit: (-hit[1], hit[0]))
    if mmr_lambda < 1.0:
        fused = diversify(index, fused[: max(MMR_POOL, top_k)], top_k, mmr_lambda)
    if global_question:
        scores = dict(fused)
        cards = [cid for cid, c in index.chunks.items() if c.kind == "card" and wanted(c)]
        cards.sort(key=lambda cid: -scores.get(cid, 0.0))
        card_set = set(cards)
        rest = [hit for hit in fused if hit[0] not in card_set]
        fused = [(cid, scores.get(cid, 0.0)) for cid in cards] + rest
    return [Retrieved(index.chunks[cid], score) for cid, score in fused[:top_k]]


def diversify(index: SessionIndex, hits: list[Hit], k: int, weight: float) -> list[Hit]:
    """Maximal marginal relevance: pick, one by one, the hit that best balances relevance
    (its fused score, scaled to 0..1) against similarity to the hits already picked, so the
    top sources are not near-copies of one passage."""
    if len(hits) <= 1:
        return hits
    vectors = index.vectors([cid for cid, _ in hits])
    similarity = vectors @ vectors.T
    best = hits[0][1] or 1.0
    relevance = [score / best for _, score in hits]
    chosen = [0]
    while len(chosen) < min(k, len(hits)):

        def value(i: int) -> float:
            redundancy = max(float(similarity[i, j]) for j in chosen)
            return weight * relevance[i] - (1 - weight) * redundancy

        chosen.append(max((i for i in range(len(hits)) if i not in chosen), key=value))
    return [hits[i] for i in chosen]


def _number_of_named(index: SessionIndex, name: str) -> str | None:
    """The number of the highest-level numbered section whose title holds `name` ("training"
    -> "5" for "5 Training"), so that its subsections come along."""
    named = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    numbers = {
        match.group(1).rstrip(".")
        for chunk in index.chunks.values()
        if chunk.section and named.search(chunk.section)
        and (match := re.match(r"^(\d+(?:\.\d+)*)\.?\s", chunk.section))
    }  # fmt: skip
    return min(numbers, key=lambda n: (n.count("."), n), default=None)


def fuse(rankings: list[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion: scores are 1/(60+rank) summed over the rankings, best first."""
    scores: dict[int, float] = defaultdict(float)
    for ranking in rankings:
        for position, (cid, _) in enumerate(ranking):
            scores[cid] += 1.0 / (RRF_K + position + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
