"""BM25 over a session's chunks, kept as blocks of postings merged incrementally.

Adding a document builds that document's block; nothing over the rest of the session is
rebuilt (save merges of segments, amortised: see `Lexical`). The statistics that span the
session (the number of chunks, their mean length, each term's document frequency) are
summed over the segments when a question is scored, so the scores are the very ones
bm25s's eager index (method "lucene", k1 1.5, b 0.75) gives over the whole session:
each term's score rounded to float32, summed in the query's order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ragsvc.search.bm25_terms import Tokens

K1 = 1.5
B = 0.75
MERGE_RATIO = 4


@dataclass(frozen=True)
class Postings:
    """One block of chunks' terms: for term t, chunks `ids[starts[c]:starts[c+1]]` hold it
    `counts[...]` times, and are `lengths[...]` terms long (c = `columns[t]`)."""

    columns: dict[str, int]
    starts: np.ndarray  # int64, one more than there are terms
    ids: np.ndarray  # int64 chunk ids
    counts: np.ndarray  # float64 term frequencies
    lengths: np.ndarray  # float64 chunk lengths in terms
    chunks: int  # how many chunks the block holds
    total_length: int  # their lengths summed
    documents: frozenset[str] = frozenset()  # the documents whose chunks these are

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        column = self.columns.get(term)
        if column is None:
            return None
        start, end = int(self.starts[column]), int(self.starts[column + 1])
        if start == end:  # the term's chunks were removed
            return None
        return self.ids[start:end], self.counts[start:end], self.lengths[start:end]


class Lexical:
    """A session's BM25 postings, in segments (blocks merged), each changed only by copy.

    A new document's block is appended, then merged with the segments before it while they
    are no more than MERGE_RATIO times its size: segments shrink geometrically, so a
    question looks a term up in a handful of them, and each chunk is merged a few times
    over the session's life (what Lucene does with its segments)."""

    def __init__(self, segments: tuple[Postings, ...] = ()) -> None:
        self.segments = segments

    def copy(self) -> Lexical:
        return Lexical(self.segments)

    def add(self, documents: frozenset[str], block: Postings) -> None:
        """Add the block of these documents' chunks."""
        segments = [*self.segments, replace(block, documents=documents)]
        while len(segments) > 1 and segments[-2].chunks <= MERGE_RATIO * segments[-1].chunks:
            last = segments.pop()
            segments[-1] = merged(segments[-1], last)
        self.segments = tuple(segments)

    def remove(self, document_id: str, ids: list[int], lengths: list[int]) -> None:
        """Drop a document whose chunks have these ids and term counts."""
        doomed = np.asarray(ids, dtype=np.int64)
        self.segments = tuple(
            without(segment, document_id, doomed, sum(lengths))
            if document_id in segment.documents
            else segment
            for segment in self.segments
        )
        self.segments = tuple(s for s in self.segments if s.documents)

    def knows(self, term: str) -> bool:
        return any(segment.postings(term) is not None for segment in self.segments)

    def scores(self, terms: Tokens, size: int) -> np.ndarray | None:
        """Each chunk's BM25 score for the terms, indexed by chunk id (`size` > every id);
        None when no chunk holds any of the terms."""
        chunks = sum(segment.chunks for segment in self.segments)
        if not chunks:
            return None
        mean_length = sum(segment.total_length for segment in self.segments) / chunks
        scores = np.zeros(size, dtype=np.float32)
        matched = False
        for term in terms:
            found = [p for p in (s.postings(term) for s in self.segments) if p is not None]
            frequency = sum(len(ids) for ids, _, _ in found)
            # A chunk is in one segment: each gets the term's score once, as in one array.
            for ids, counts, lengths in found:
                scores[ids] += _term_scores(frequency, chunks, counts, lengths, mean_length)
            matched = matched or bool(found)
        return scores if matched else None


def merged(first: Postings, second: Postings) -> Postings:
    """One segment holding both: the vocabularies united, the postings sorted by term."""
    columns = dict(first.columns)
    for term in second.columns:
        columns.setdefault(term, len(columns))
    renumbered = np.fromiter(
        map(columns.__getitem__, second.columns), np.int64, len(second.columns)
    )
    cols = np.concatenate([_column_of_each(first), renumbered[_column_of_each(second)]])
    order = np.argsort(cols, kind="stable")
    ids, counts, lengths = (
        np.concatenate([getattr(first, name), getattr(second, name)])[order]
        for name in ("ids", "counts", "lengths")
    )
    return Postings(
        columns,
        column_starts(cols[order], len(columns)),
        ids,
        counts,
        lengths,
        first.chunks + second.chunks,
        first.total_length + second.total_length,
        first.documents | second.documents,
    )


def without(segment: Postings, document_id: str, ids: np.ndarray, length: int) -> Postings:
    """The segment without these chunks (all of one document's, `length` terms in all)."""
    kept = ~np.isin(segment.ids, ids)
    return Postings(
        segment.columns,
        column_starts(_column_of_each(segment)[kept], len(segment.columns)),
        segment.ids[kept],
        segment.counts[kept],
        segment.lengths[kept],
        segment.chunks - len(ids),
        segment.total_length - length,
        segment.documents - {document_id},
    )


def _column_of_each(segment: Postings) -> np.ndarray:
    """The column of each posting."""
    return np.repeat(np.arange(len(segment.columns), dtype=np.int64), np.diff(segment.starts))


def column_starts(cols: np.ndarray, count: int) -> np.ndarray:
    """Where each of `count` columns starts among postings sorted by column."""
    starts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=count), out=starts[1:])
    return starts


def _term_scores(
    frequency: int, chunks: int, counts: np.ndarray, lengths: np.ndarray, mean_length: float
) -> np.ndarray:
    """One term's score in each chunk holding it, computed and rounded as bm25s does."""
    idf = np.float32(math.log(1 + (chunks - frequency + 0.5) / (frequency + 0.5)))
    saturation = counts / (K1 * ((1 - B) + B * lengths / mean_length) + counts)
    scores: np.ndarray = (np.float64(idf) * saturation).astype(np.float32)
    return scores
