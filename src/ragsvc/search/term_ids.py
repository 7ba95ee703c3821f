"""Chunks' BM25 terms as numbers: a vocabulary and, chunk after chunk, each term's place in
it. How an index and the stores keep terms (a few bytes a term, no list of strings per
chunk), and how a loaded session's postings are built without hashing every term again
(a vocabulary's worth of lookups per document instead) nor sorting them all at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np

from ragsvc.search.bm25_terms import Tokens
from ragsvc.search.lexical import Postings, column_starts


@dataclass(frozen=True)
class TermCounts:
    """Each vocabulary term's chunks in one part: term v is in the part's chunks
    `rows[starts[v]:starts[v+1]]` (ascending), `counts[...]` times."""

    starts: np.ndarray  # int64, one more than there are terms
    rows: np.ndarray  # int64
    counts: np.ndarray  # int64


@dataclass(frozen=True, eq=False)  # equal when the same: an index groups chunks by batch
class TermIds:
    """Chunks' terms: chunk c's are `vocabulary[ids[ends[c-1]:ends[c]]]` (from 0 for c = 0)."""

    vocabulary: list[str]  # each term once, in the order it first occurs
    ids: np.ndarray  # int32, one per term of every chunk
    ends: np.ndarray  # int64, one per chunk

    @classmethod
    def of(cls, tokens: list[Tokens]) -> TermIds:
        places = _places(chain.from_iterable(tokens))
        ids = np.fromiter(map(places.__getitem__, chain.from_iterable(tokens)), dtype=np.int32)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        return cls(list(places), ids, np.cumsum(lengths))

    @classmethod
    def joined(cls, parts: list[TermIds]) -> TermIds:
        """The chunks of these, one part after the other, as one."""
        if len(parts) == 1:
            return parts[0]
        places = _places(chain.from_iterable(part.vocabulary for part in parts))
        ids = [_renumbered(places, part)[part.ids] for part in parts]
        offsets = np.cumsum([0, *(len(part.ids) for part in parts)])
        ends = [part.ends + offset for part, offset in zip(parts, offsets, strict=False)]
        return cls(
            list(places),
            np.concatenate([np.zeros(0, np.int32), *ids]).astype(np.int32),
            np.concatenate([np.zeros(0, np.int64), *ends]),
        )

    def __len__(self) -> int:
        return len(self.ends)

    def lengths(self) -> np.ndarray:
        """How many terms each chunk has."""
        return np.diff(self.ends, prepend=0)

    def row(self, place: int) -> Tokens:
        """One chunk's terms."""
        start = int(self.ends[place - 1]) if place else 0
        return [self.vocabulary[i] for i in self.ids[start : self.ends[place]].tolist()]

    def length(self, place: int) -> int:
        """How many terms one chunk has."""
        return int(self.ends[place]) - (int(self.ends[place - 1]) if place else 0)

    def tokens(self) -> list[Tokens]:
        """The chunks' terms as lists, in order."""
        terms = np.array(self.vocabulary, dtype=object)[self.ids].tolist()
        starts = [0, *self.ends.tolist()]
        return [terms[start:end] for start, end in zip(starts, starts[1:], strict=False)]

    def counted(self) -> TermCounts:
        """Each term's chunks and counts: one small sort per part, where sorting a whole
        session's terms at once took most of a cold load (not kept: 16 bytes a posting)."""
        chunks = max(len(self.ends), 1)
        rows = np.repeat(np.arange(len(self.ends), dtype=np.int64), self.lengths())
        pairs, counts = np.unique(self.ids.astype(np.int64) * chunks + rows, return_counts=True)
        terms, rows = np.divmod(pairs, chunks)
        return TermCounts(column_starts(terms, len(self.vocabulary)), rows, counts)


def postings_of_parts(chunk_ids: np.ndarray, parts: list[TermIds]) -> Postings:
    """The BM25 block of these chunks, whose terms the parts hold in order: the same block
    their tokens counted directly make (tests/support/postings.py), its vocabulary in the
    order terms first occur."""
    columns = _places(chain.from_iterable(part.vocabulary for part in parts))
    counted = [part.counted() for part in parts]
    column_of = _joined([_renumbered(columns, part) for part in parts], np.int64)
    sizes = _joined([np.diff(c.starts) for c in counted], np.int64)
    # A term's postings, part after part, are its chunks in order: a stable sort of the
    # parts' terms by column, then one gather, merges the parts' postings.
    order = np.argsort(column_of, kind="stable")
    take = _gather(_joined([c.starts[:-1] for c in counted], np.int64), sizes, counted, order)
    row_offsets = np.cumsum([0, *(len(part) for part in parts)])
    rows = _joined([c.rows + o for c, o in zip(counted, row_offsets, strict=False)], np.int64)
    rows = rows[take]
    lengths = _joined([part.lengths() for part in parts], np.int64)
    starts = np.zeros(len(columns) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(np.bincount(column_of, weights=sizes, minlength=len(columns)))
    return Postings(
        columns,
        starts,
        np.asarray(chunk_ids, dtype=np.int64)[rows],
        _joined([c.counts for c in counted], np.int64)[take].astype(np.float64),
        lengths[rows].astype(np.float64),
        len(chunk_ids),
        int(lengths.sum()),
    )


def _gather(
    firsts: np.ndarray, sizes: np.ndarray, counted: list[TermCounts], order: np.ndarray
) -> np.ndarray:
    """Where each merged posting is among the parts' postings laid end to end: `firsts`
    and `sizes` give each part's terms' runs within their part, `order` the runs' order."""
    offsets = np.cumsum([0, *(len(c.rows) for c in counted)])[:-1]
    firsts = firsts + np.repeat(offsets, [len(c.starts) - 1 for c in counted])
    sizes = sizes[order]
    placed = np.cumsum(sizes) - sizes
    return np.repeat(firsts[order] - placed, sizes) + np.arange(int(sizes.sum()))


def _places(terms: Iterable[str]) -> dict[str, int]:
    """Each distinct term's place, in the order terms first occur."""
    places = dict.fromkeys(terms, 0)
    for place, term in enumerate(places):
        places[term] = place
    return places


def _renumbered(places: dict[str, int], part: TermIds) -> np.ndarray:
    """The place in `places` of each of the part's vocabulary."""
    return np.fromiter(map(places.__getitem__, part.vocabulary), np.int64, len(part.vocabulary))


def _joined(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype), *arrays])
