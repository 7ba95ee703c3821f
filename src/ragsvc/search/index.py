"""One session's search index: FAISS (dense) + BM25 (lexical) over its chunks.

Vectors live in a flat inner-product index wrapped in an id map, so a deleted document's
chunks leave by id; large sessions are also searched through an inverted file (see
APPROXIMATE_FROM). Each chunk's BM25 terms are kept, so a change tokenizes only what it
adds, and indexed in blocks merged incrementally (lexical.py), so a change indexes only
what it adds: the first question after an upload costs what a warm one does. An index
hands out and takes back one part per document (its chunks, vectors and terms), which is
how the stores keep it. All methods are blocking; the use cases call them from worker threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

# FAISS's OpenMP threads wait asleep between searches: spinning, they burnt CPU that
# concurrent requests need. Read once, when FAISS's OpenMP runtime loads (just below).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from ragsvc.core.errors import IndexMismatch  # noqa: E402
from ragsvc.core.schemas import Chunk
from ragsvc.search.bm25_terms import Tokens, query_terms, tokens_of
from ragsvc.search.embedders import Vectors
from ragsvc.search.inverted_file import InvertedFile, TrainedLists
from ragsvc.search.lexical import Lexical, Postings
from ragsvc.search.term_ids import TermIds, postings_of_parts
from ragsvc.text.abbreviations import spelled_out

Hit = tuple[int, float]  # (chunk id, score)

# Past this many chunks a flat search (every vector read, ~2 ms at 30,000 on 256 dimensions)
# costs more than an inverted-file one (inverted_file.py); deeper searches (a filter asks
# for every chunk) stay flat, and so does an index until it is asked, so small sessions
# never train one.
APPROXIMATE_FROM = 30_000
APPROXIMATE_DEPTH = 256  # deepest search answered by the inverted file


@dataclass(frozen=True)
class DocumentPart:
    """One document's share of an index: its chunks (by id), their vectors and BM25 terms
    (as numbers: what a loaded session's BM25 is built from)."""

    chunks: list[Chunk]
    vectors: Vectors
    terms: TermIds

    @classmethod
    def of_tokens(cls, chunks: list[Chunk], vectors: Vectors, tokens: list[Tokens]) -> DocumentPart:
        return cls(chunks, vectors, TermIds.of(tokens))


class SessionIndex:
    def __init__(self, embedder_name: str, dim: int) -> None:
        self.embedder_name = embedder_name
        self.dim = dim
        self.chunks: dict[int, Chunk] = {}
        self.next_id = 0
        self._dense: faiss.IndexIDMap2 = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._terms: dict[int, tuple[TermIds, int]] = {}  # each chunk's batch's, and its row
        self._lexical = Lexical()
        self._languages: dict[str, str] = {}  # each document's language
        self._sorted_ids: np.ndarray | None = None  # the chunk ids in order, when asked for
        self._row_order: np.ndarray | None = None  # the flat index's rows by id, when asked for
        self._approximate: InvertedFile | None = None  # when first needed
        self._approximate_lock = threading.Lock()

    def check_embedder(self, embedder_name: str) -> None:
        """Refuse to mix vector spaces: queries must be embedded as the chunks were."""
        if self.embedder_name != embedder_name:
            raise IndexMismatch(
                f"this session was indexed with {self.embedder_name!r}, the server now embeds "
                f"with {embedder_name!r}; re-upload the documents into a new session"
            )

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def nbytes(self) -> int:
        """About how much memory the index holds: the vectors (and their codes once an
        inverted file holds them), and the texts thrice (the chunks, their tokens, the BM25
        postings)."""
        text = sum(len(c.text) + len(c.section or "") for c in self.chunks.values())
        per_vector = 4 * self.dim
        if self._approximate is not None:
            per_vector += self._approximate.bytes_per_vector
        return per_vector * len(self.chunks) + 3 * text

    def copy(self) -> SessionIndex:
        """An independent copy to change (published indexes are never changed in place)."""
        twin = SessionIndex(self.embedder_name, self.dim)
        twin.chunks, twin.next_id = dict(self.chunks), self.next_id
        twin._dense = cast(faiss.IndexIDMap2, faiss.clone_index(self._dense))
        if self._approximate is not None:
            twin._approximate = self._approximate.copy()
        twin._terms, twin._lexical = dict(self._terms), self._lexical.copy()
        twin._languages, twin._sorted_ids = dict(self._languages), self._sorted_ids
        twin._row_order = self._row_order  # a clone keeps the rows' order
        return twin

    def add(
        self, chunks: list[Chunk], vectors: Vectors, tokens: list[Tokens] | None = None
    ) -> None:
        """Add chunks whose ids were taken from `reserve_ids`, with their vectors (and, when
        known already, their tokens) in order."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        if not chunks:
            return
        terms = TermIds.of(tokens if tokens is not None else tokens_of(chunks))
        ids = self._keep(chunks, vectors, [terms])
        self._index_terms(chunks, postings_of_parts(ids, [terms]))  # terms hashed once

    def _keep(self, chunks: list[Chunk], vectors: Vectors, terms: list[TermIds]) -> np.ndarray:
        """Hold the chunks, their vectors and terms (all but the BM25 postings: `terms`
        holds the chunks' in order, in batches); their ids."""
        ids = np.array([c.id for c in chunks], dtype=np.int64)
        self._dense.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        if self._approximate is not None:  # its lists take the new vectors; retrained later
            self._approximate.add(vectors, ids)
        self.chunks.update(zip(ids.tolist(), chunks, strict=True))
        rows = ((batch, row) for batch in terms for row in range(len(batch)))
        self._terms.update(zip(ids.tolist(), rows, strict=True))
        self._sorted_ids = _extended(self._sorted_ids, ids)
        self._row_order = None
        return ids

    def _index_terms(self, chunks: list[Chunk], block: Postings) -> None:
        """Add the chunks' BM25 postings: one block, whatever documents they are of (a
        session loaded whole is indexed in one pass, with no merges)."""
        for chunk in chunks:
            self._languages.setdefault(chunk.document_id, chunk.language)
        self._lexical.add(frozenset(c.document_id for c in chunks), block)

    def reserve_ids(self, count: int) -> range:
        ids = range(self.next_id, self.next_id + count)
        self.next_id += count
        return ids

    def remove_document(self, document_id: str) -> int:
        doomed = [cid for cid, c in self.chunks.items() if c.document_id == document_id]
        if doomed:
            self._dense.remove_ids(faiss.IDSelectorBatch(np.array(doomed, dtype=np.int64)))
            if self._approximate is not None:
                self._approximate.remove(doomed)
            lengths = [batch.length(row) for batch, row in map(self._terms.__getitem__, doomed)]
            for cid in doomed:
                del self.chunks[cid], self._terms[cid]
            self._lexical.remove(document_id, doomed, lengths)
            self._sorted_ids = self._row_order = None
            self._languages.pop(document_id, None)
        return len(doomed)

    def document_ids(self) -> list[str]:
        """The documents with chunks in the index, in the order they were added."""
        return list(dict.fromkeys(self.chunks[cid].document_id for cid in sorted(self.chunks)))

    def part_names(self) -> dict[str, str]:
        """Each document's part name on disk, by document id: the id and its newest chunk's
        id, so a document whose chunks changed (committed as it was read) is stored anew."""
        newest = {self.chunks[cid].document_id: cid for cid in sorted(self.chunks)}
        return {doc_id: f"{doc_id}.{cid}" for doc_id, cid in newest.items()}

    def part(self, document_id: str) -> DocumentPart:
        """A document's chunks, vectors and terms, to store."""
        ids = sorted(cid for cid, c in self.chunks.items() if c.document_id == document_id)
        chunks = [self.chunks[cid] for cid in ids]
        return DocumentPart(chunks, self.vectors(ids), self.terms(ids))

    @classmethod
    def from_parts(
        cls, embedder_name: str, dim: int, next_id: int, parts: Iterable[DocumentPart]
    ) -> SessionIndex:
        index = cls(embedder_name, dim)
        every = list(parts)  # added at once: the BM25 postings built in one pass
        chunks = [chunk for part in every for chunk in part.chunks]
        if chunks:
            terms = [part.terms for part in every]
            vectors = [part.vectors.reshape(-1, dim) for part in every]
            # The stacked copy is not kept in a name: FAISS copies it, so it is freed before
            # the postings are built (a lower peak: fewer fresh pages to fault in).
            ids = index._keep(chunks, np.concatenate(vectors), terms)
            index._index_terms(chunks, postings_of_parts(ids, terms))
        index.next_id = next_id
        return index

    def dense_search(self, query: Vectors, k: int) -> list[Hit]:
        if not self.chunks:
            return []
        k = min(k, len(self.chunks))
        # One query against one session's index gains nothing from OpenMP: waking the pool
        # costs more than it shares (the inverted file's scan took as long on two threads
        # as on one at 100,000 chunks). The setting is per thread, so it is made here, on
        # the worker thread that searches.
        faiss.omp_set_num_threads(1)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if len(self.chunks) >= APPROXIMATE_FROM and k <= APPROXIMATE_DEPTH:
            return self._refined(query, k)
        scores, ids = self._dense.search(query, k)
        found = ids[0] >= 0  # whole arrays to lists: numpy scalars one by one cost 10x
        return list(zip(ids[0][found].tolist(), scores[0][found].tolist(), strict=True))

    def _refined(self, query: Vectors, k: int) -> list[Hit]:
        """The inverted file's best candidates, scored again exactly: the k best, ties by id."""
        ids = self._inverted_file().candidates(query, k)
        scores = self.vectors(ids.tolist()) @ query[0]
        best = np.lexsort((ids, -scores))[:k]
        return list(zip(ids[best].tolist(), scores[best].tolist(), strict=True))

    def _inverted_file(self) -> InvertedFile:
        """The inverted file of the vectors, trained (again) when missing or when the
        session has doubled since it was trained."""
        with self._approximate_lock:
            if self._approximate is None or len(self.chunks) > 2 * self._approximate.trained_on:
                ids = self._ids_in_order()
                self._approximate = InvertedFile.trained(self.vectors(ids.tolist()), ids)
            return self._approximate

    def trained_lists(self) -> TrainedLists | None:
        """The inverted file as a store keeps it (trained now if need be), past
        APPROXIMATE_FROM chunks, so a cold load neither trains it nor encodes the vectors
        again."""
        if len(self.chunks) < APPROXIMATE_FROM:
            return None
        return self._inverted_file().kept(self._ids_in_order())

    def restore_inverted_file(self, trained: TrainedLists) -> None:
        """The inverted file made again from what `trained_lists` gave, untrained (see
        `InvertedFile.restored`); one of an older kind is dropped: trained again when
        first needed."""
        ids = self._ids_in_order()
        restored = InvertedFile.restored(trained, self.vectors(ids.tolist()), ids)
        with self._approximate_lock:
            self._approximate = restored

    def terms(self, ids: list[int]) -> TermIds:
        """The kept BM25 terms of these chunks, in order: the batches they were added in, when
        they are whole ones (a document added, committed as read, or loaded), else made anew."""
        held = [self._terms[cid] for cid in ids]
        batches = list(dict.fromkeys(batch for batch, _ in held))  # by identity: not hashed
        if held == [(batch, row) for batch in batches for row in range(len(batch))]:
            return TermIds.joined(batches)
        return TermIds.of([batch.row(row) for batch, row in held])

    def vectors(self, ids: list[int]) -> Vectors:
        """The stored vectors of these chunks, in order."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Read from the flat index's storage by row: FAISS's reconstruction by id looks
        # each id up in a hash map, three times the time for the inverted file's candidates.
        flat = cast(faiss.IndexFlatIP, faiss.downcast_index(self._dense.index))
        stored = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * self.dim)
        rows: Vectors = stored.reshape(-1, self.dim)[self._rows(np.asarray(ids, np.int64))]
        return rows

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """The flat index's rows holding these chunks' vectors (rows are in the order the
        chunks were added, less those removed)."""
        places = self._places(ids)
        if (order := self._row_order) is None:
            order = np.argsort(faiss.vector_to_array(self._dense.id_map), kind="stable")
            # Chunks added in id order (as uploads add them) lie in rows in id order.
            self._row_order = order = _unless_in_order(order)
        return places if not len(order) else order[places]

    def _places(self, ids: np.ndarray) -> np.ndarray:
        """Where these chunks come in id order; KeyError for one the index does not hold."""
        ordered = self._ids_in_order()
        if len(ordered) and ordered[-1] == len(ordered) - 1:  # ids 0..n-1: no deletions
            if ids.min() < 0 or ids.max() >= len(ordered):
                raise KeyError("no such chunk")
            return ids
        places = np.minimum(np.searchsorted(ordered, ids), max(len(ordered) - 1, 0))
        if not len(ordered) or not np.array_equal(ordered[places], ids):
            raise KeyError("no such chunk")
        return places

    def lexical_search(self, query: str, k: int) -> list[Hit]:
        if not self.chunks:
            return []
        ids = self._ids_in_order()
        size = int(ids[-1]) + 1  # ids given without reserve_ids may pass next_id
        by_id = self._lexical.scores(query_terms(query, self._language_list()), size)
        if by_id is None:  # a query of stop words, or of words no chunk holds, matches nothing
            return []
        # Every chunk's score, in chunk id order (ids 0..n-1, as a session without deletions
        # has, need no gathering), and the top k taken as bm25s's index did.
        scores = by_id if size == len(ids) else by_id[ids]
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]  # whole arrays to lists: numpy scalars one by one cost 10x
        return list(zip(ids[top].tolist(), scores[top].tolist(), strict=True))

    def unknown(self, words: list[str]) -> list[str]:
        """The words of which no chunk holds any term (stemmed as BM25 stems them), nor
        spells them out ("AGPL" as "Affero General Public License")."""
        if not self.chunks:
            return list(words)
        languages = self._language_list()
        absent = [w for w in words if not any(map(self._lexical.knows, query_terms(w, languages)))]
        return [w for w in absent if not spelled_out(w, (c.text for c in self.chunks.values()))]

    def _ids_in_order(self) -> np.ndarray:
        if (ids := self._sorted_ids) is None:
            ids = np.fromiter(self.chunks, dtype=np.int64, count=len(self.chunks))
            ids.sort()
            self._sorted_ids = ids
        return ids

    def _language_list(self) -> list[str]:
        """The languages the chunks are in."""
        return sorted(set(self._languages.values()))


def _unless_in_order(order: np.ndarray) -> np.ndarray:
    """The order, or an empty array when it is 0..n-1 (nothing to reorder)."""
    if np.array_equal(order, np.arange(len(order))):
        return np.zeros(0, dtype=np.int64)
    return order


def _extended(ordered: np.ndarray | None, ids: np.ndarray) -> np.ndarray | None:
    """Ids in order with these added, when they come after them all (as reserved ids do),
    so an upload does not make the next question sort the session's ids again."""
    if ordered is None or (len(ordered) and ids.min() <= ordered[-1]):
        return None
    if np.any(np.diff(ids) <= 0):
        return None
    return np.concatenate([ordered, ids])
