"""Question (+ recent turns) -> ranked chunks, by dense and BM25 search fused with RRF.

Follow-ups ("and how does it compare to o1?") carry little to search with on their own, so
the previous question is searched along with the current one and both rankings are fused:
a real follow-up gains from the context, a change of topic still ranks on its own words.
Global questions ("what is this paper about?") put each document's card first.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.embedders import Vectors
from ragsvc.search.index import Hit, SessionIndex
from ragsvc.text.sentences import CONTENTS_SHARE, is_table_of_contents

RRF_K = 60
MMR_POOL = 30  # fused hits that diversification chooses from
DOCUMENT_EVIDENCE = 3  # a document's best hits that tell how well it matches a question
REFERENCES_WEIGHT = 0.5  # bibliography entries match many words yet rarely answer anything
CONTENTS_MEMO = 8192  # chunk texts whose table-of-contents test is remembered
Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float


@dataclass(frozen=True, kw_only=True)
class Query:
    """What to search for and how: the question, its context, the filters and the mode."""

    question: str
    previous_questions: tuple[str, ...] = ()  # the conversation's earlier questions, oldest first
    top_k: int
    document_ids: frozenset[str] | None = None  # None: every document of the session
    global_question: bool = False  # put the document cards first
    mode: Mode = "hybrid"
    mmr_lambda: float = 1.0  # 1: no diversification

    @property
    def texts(self) -> list[str]:
        """The question alone, plus the question joined with the previous one if any."""
        texts = [self.question]
        if self.previous_questions:
            texts.append(f"{self.previous_questions[-1]} {self.question}")
        return texts

    def wants(self, chunk: Chunk) -> bool:
        return self.document_ids is None or chunk.document_id in self.document_ids


def rank(index: SessionIndex, query: Query, vectors: Vectors) -> list[Retrieved]:
    """Top `query.top_k` chunks for the question (`vectors` embed `query.texts`), blocking:
    search, fuse, filter to its documents, diversify, and put the cards first for a global
    question."""
    fused = _weighted(index, query, fuse(_rankings(index, query, vectors)))
    relevance = _document_relevance(index, fused) if query.global_question else {}
    if query.mmr_lambda < 1.0:
        fused = diversify(index, fused[: max(MMR_POOL, query.top_k)], query.top_k, query.mmr_lambda)
    if query.global_question:
        fused = _cards_first(index, query, fused, relevance)
    return [Retrieved(index.chunks[cid], score) for cid, score in fused[: query.top_k]]


def _weighted(index: SessionIndex, query: Query, fused: list[Hit]) -> list[Hit]:
    """The fused hits of the wanted documents, each score times its chunk's weight, best
    first and ties by id: as many as the rest of `rank` reads. A weight only lowers a
    score, so once that many weighted scores beat a hit's own, no later hit can enter and
    the rest are not weighed (about two thirds of them)."""
    count = len(fused)  # cards take their scores from every hit
    if not query.global_question:
        count = max(MMR_POOL, query.top_k) if query.mmr_lambda < 1.0 else query.top_k
    kept: list[tuple[float, int]] = []  # (-weighted score, id), in order
    for cid, score in fused:
        if len(kept) >= count and -kept[count - 1][0] > score:
            break
        chunk = index.chunks[cid]
        if query.wants(chunk):
            insort(kept, (-score * _weight(chunk), cid))
    return [(cid, -negative) for negative, cid in kept[:count]]


def _weight(chunk: Chunk) -> float:
    """Bibliography entries and tables of contents match many words yet rarely answer."""
    if chunk.kind == "references" or _is_contents(chunk.text):
        return REFERENCES_WEIGHT
    return 1.0


@lru_cache(maxsize=CONTENTS_MEMO)
def _is_contents(text: str) -> bool:
    # The dot-leader scan costs ~50 us a chunk, ~10 ms for a question's 200 fused hits;
    # the same chunks come back question after question (a text's hash is kept on it).
    # A leader is dots each followed by at most one space, so a text with too few dots to
    # fill the share twice over cannot be one: prose is answered by a count in C.
    if 2 * text.count(".") < CONTENTS_SHARE * len(text):
        return False
    return is_table_of_contents(text)


def _rankings(index: SessionIndex, query: Query, vectors: Vectors) -> list[list[Hit]]:
    """A dense and a lexical ranking per search text, as the mode asks."""
    # A filter can exclude most of the top hits; then every chunk must be a candidate.
    depth = len(index) if query.document_ids else max(50, query.top_k * 10)
    rankings: list[list[Hit]] = []
    for text, vector in zip(query.texts, vectors, strict=True):
        if query.mode != "bm25":
            rankings.append(index.dense_search(vector, depth))
        if query.mode != "dense":
            rankings.append(index.lexical_search(text, depth))
    return rankings


def _document_relevance(index: SessionIndex, fused: list[Hit]) -> dict[str, float]:
    """Each document's few best fused scores summed: one passage of another document that
    happens to rank first does not outweigh several that match, nor does a long document
    win by its length."""
    best: dict[str, list[float]] = defaultdict(list)
    for cid, score in fused[:MMR_POOL]:  # best first
        scores = best[index.chunks[cid].document_id]
        if len(scores) < DOCUMENT_EVIDENCE:
            scores.append(score)
    return {document_id: sum(scores) for document_id, scores in best.items()}


def _cards_first(
    index: SessionIndex, query: Query, fused: list[Hit], relevance: dict[str, float]
) -> list[Hit]:
    """Every wanted document card ahead of the other hits, the card of the document that
    matches the question best first ("what is the Tidy Data paper about?" names one of
    several; "what is this form for?" matches the form)."""
    scores = dict(fused)
    cards = [cid for cid, c in index.chunks.items() if c.kind == "card" and query.wants(c)]
    cards.sort(key=lambda cid: (-relevance.get(index.chunks[cid].document_id, 0.0), cid))
    card_set = set(cards)
    rest = [hit for hit in fused if hit[0] not in card_set]
    return [(cid, scores.get(cid, 0.0)) for cid in cards] + rest


def diversify(index: SessionIndex, hits: list[Hit], k: int, weight: float) -> list[Hit]:
    """Maximal marginal relevance: pick, one by one, the hit that best balances relevance
    (its fused score, scaled to 0..1) against similarity to the hits already picked, so the
    top sources are not near-copies of one passage."""
    if len(hits) <= 1:
        return hits
    vectors = index.vectors([cid for cid, _ in hits])
    similarity = (vectors @ vectors.T).astype(np.float64)
    best = hits[0][1] or 1.0
    relevance = np.array([score / best for _, score in hits])
    chosen = [0]
    redundancy = similarity[:, 0].copy()  # each hit's highest similarity to a chosen one
    while len(chosen) < min(k, len(hits)):
        value = weight * relevance - (1 - weight) * redundancy
        value[chosen] = -np.inf
        pick = int(np.argmax(value))  # the first of equals, as before
        chosen.append(pick)
        redundancy = np.maximum(redundancy, similarity[:, pick])
    return [hits[i] for i in chosen]


def fuse(rankings: list[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion: scores are 1/(60+rank) summed over the rankings, best first."""
    ranked = [ranking for ranking in rankings if ranking]
    if not ranked:
        return []
    ids = np.concatenate([np.fromiter((cid for cid, _ in r), np.int64, len(r)) for r in ranked])
    shares = np.concatenate([1.0 / (RRF_K + np.arange(1, len(r) + 1)) for r in ranked])
    # bincount adds each id's shares in the rankings' order: the sums a loop would make.
    unique, slot = np.unique(ids, return_inverse=True)
    scores = np.bincount(slot, weights=shares)
    order = np.lexsort((unique, -scores))  # best first, then by chunk id
    return list(zip(unique[order].tolist(), scores[order].tolist(), strict=True))
