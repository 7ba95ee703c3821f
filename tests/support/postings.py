"""The BM25 block of chunks made straight from their tokens: the reference the index's own
way (`term_ids.postings_of_parts`, from terms kept as numbers) is held equal to."""

from __future__ import annotations

from itertools import chain

import numpy as np

from ragsvc.search.bm25_terms import Tokens
from ragsvc.search.lexical import Postings, column_starts


def postings_of(ids: list[int], tokens: list[Tokens]) -> Postings:
    """The block of these chunks (by id) with these terms."""
    # One pass of Python over the terms (ids for them), the counting in numpy: a tenth of
    # the time of a Counter per chunk.
    columns = dict.fromkeys(chain.from_iterable(tokens), 0)
    for column, term in enumerate(columns):
        columns[term] = column
    flat = np.fromiter(map(columns.__getitem__, chain.from_iterable(tokens)), dtype=np.int64)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    return postings_of_columns(ids, columns, flat, lengths)


def postings_of_columns(
    ids: list[int] | np.ndarray, columns: dict[str, int], flat: np.ndarray, lengths: np.ndarray
) -> Postings:
    """The block of these chunks given their terms as columns: `flat` holds each term's
    column, chunk after chunk, `lengths` how many terms each chunk has."""
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pairs = flat * max(len(lengths), 1) + rows
    pairs, counts = np.unique(pairs, return_counts=True)  # by term, then by chunk
    cols, rows = np.divmod(pairs, max(len(lengths), 1))
    return Postings(
        columns,
        column_starts(cols, len(columns)),
        np.asarray(ids, dtype=np.int64)[rows],
        counts.astype(np.float64),
        lengths[rows].astype(np.float64),
        len(ids),
        int(lengths.sum()),
    )
