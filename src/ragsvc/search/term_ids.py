"""Chunks' BM25 terms as numbers: a vocabulary and, chunk after chunk, each term's place in
it. How the stores keep terms, and how a loaded session's postings are built without
hashing every term again (a vocabulary's worth of lookups per document instead)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from ragsvc.search.bm25_terms import Tokens
from ragsvc.search.lexical import Postings, postings_of_columns


@dataclass(frozen=True)
class TermIds:
    """Chunks' terms: chunk c's are `vocabulary[ids[ends[c-1]:ends[c]]]` (from 0 for c = 0)."""

    vocabulary: list[str]  # each term once, in the order it first occurs
    ids: np.ndarray  # int32, one per term of every chunk
    ends: np.ndarray  # int64, one per chunk

    @classmethod
    def of(cls, tokens: list[Tokens]) -> TermIds:
        places = dict.fromkeys(chain.from_iterable(tokens), 0)
        for place, term in enumerate(places):
            places[term] = place
        ids = np.fromiter(map(places.__getitem__, chain.from_iterable(tokens)), dtype=np.int32)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        return cls(list(places), ids, np.cumsum(lengths))

    def __len__(self) -> int:
        return len(self.ends)

    def tokens(self) -> list[Tokens]:
        """The chunks' terms as lists, in order."""
        terms = np.array(self.vocabulary, dtype=object)[self.ids].tolist()
        starts = [0, *self.ends.tolist()]
        return [terms[start:end] for start, end in zip(starts, starts[1:], strict=False)]


def postings_of_parts(chunk_ids: np.ndarray, parts: list[TermIds]) -> Postings:
    """The BM25 block of these chunks, whose terms the parts hold in order: the same block
    `postings_of` makes of their tokens (its vocabulary in the order terms first occur)."""
    columns = dict.fromkeys(chain.from_iterable(part.vocabulary for part in parts), 0)
    for column, term in enumerate(columns):
        columns[term] = column
    flat = [
        np.fromiter(map(columns.__getitem__, part.vocabulary), np.int64, len(part.vocabulary))[
            part.ids
        ]
        for part in parts
    ]
    lengths = [np.diff(part.ends, prepend=0) for part in parts]
    return postings_of_columns(
        chunk_ids,
        columns,
        np.concatenate([np.zeros(0, np.int64), *flat]),
        np.concatenate([np.zeros(0, np.int64), *lengths]),
    )
