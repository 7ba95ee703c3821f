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

# FAISS's OpenMP threads wait asleep between searches: spinning, they burnt CPU that
# concurrent requests need. Read once, when FAISS's OpenMP runtime loads (just below).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from ragsvc.core.errors import IndexMismatch  # noqa: E402
from ragsvc.core.schemas import Chunk
from ragsvc.search.bm25_terms import Tokens, query_terms, tokens_of
from ragsvc.search.embedders import Vectors
from ragsvc.search.lexical import Lexical, Postings, postings_of
from ragsvc.search.term_ids import TermIds, postings_of_parts
from ragsvc.text.abbreviations import spelled_out

Hit = tuple[int, float]  # (chunk id, score)

# Past this many chunks a flat search (every vector read, ~2 ms at 30,000 on 256 dimensions)
# costs more than an inverted-file one; deeper searches (a filter asks for every chunk)
# stay flat, and so does an index until it is asked, so small sessions never train one.
APPROXIMATE_FROM = 30_000
APPROXIMATE_DEPTH = 256  # deepest search answered by the inverted file
# Questions sit far from the passages they match (their best scores lie close together), so
# the inverted file must read about a third of its lists for recall@10 0.99 against flat
# search (measured: growth_bench). Its lists hold 8-bit codes, a quarter of the vectors'
# bytes, and the best REFINE * k codes are scored again with the vectors themselves.
LISTS_PER_ROOT = 1.6  # lists: this many times the square root of the number of vectors
PROBE_SHARE = 0.35  # share of the lists read per search
REFINE = 2
# The inverted file's lists are read by this many threads, each its share of the lists: the
# same CPU in half the time on 2 cores (measured at 100,000 chunks). Smaller sessions'
# flat searches stay on one thread: too short to share.
SEARCH_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainedLists:
    """What an inverted file keeps of its training, for a store to keep: the file trained
    and empty (as FAISS serializes it: centroids, codes' ranges, what is probed), how many
    vectors it was trained on, and the list of each chunk (chunks in id order)."""

    empty: np.ndarray  # uint8
    trained_on: int
    lists: np.ndarray  # int32


@dataclass(frozen=True)
class DocumentPart:
    """One document's share of an index: its chunks (by id), their vectors and tokens (and,
    read from a store, the tokens as numbers, which a loaded session's BM25 is built from)."""

    chunks: list[Chunk]
    vectors: Vectors
    tokens: list[Tokens]
    terms: TermIds | None = None


class SessionIndex:
    def __init__(self, embedder_name: str, dim: int) -> None:
        self.embedder_name = embedder_name
        self.dim = dim
        self.chunks: dict[int, Chunk] = {}
        self.next_id = 0
        self._dense: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._tokens: dict[int, Tokens] = {}
        self._lexical = Lexical()
        self._languages: dict[str, str] = {}  # each document's language
        self._sorted_ids: np.ndarray | None = None  # the chunk ids in order, when asked for
        # The inverted file and how many vectors it was trained on, when first needed.
        self._approximate: tuple[faiss.Index, int] | None = None
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
        """About how much memory the index holds: the vectors (and their 8-bit codes once an
        inverted file holds them), and the texts thrice (the chunks, their tokens, the BM25
        postings)."""
        text = sum(len(c.text) + len(c.section or "") for c in self.chunks.values())
        per_vector = 4 if self._approximate is None else 5
        return per_vector * len(self.chunks) * self.dim + 3 * text

    def copy(self) -> SessionIndex:
        """An independent copy to change (published indexes are never changed in place)."""
        twin = SessionIndex(self.embedder_name, self.dim)
        twin.chunks, twin.next_id = dict(self.chunks), self.next_id
        twin._dense = faiss.clone_index(self._dense)
        if self._approximate is not None:
            ivf, trained_on = self._approximate
            twin._approximate = (faiss.clone_index(ivf), trained_on)
        twin._tokens, twin._lexical = dict(self._tokens), self._lexical.copy()
        twin._languages, twin._sorted_ids = dict(self._languages), self._sorted_ids
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
        tokens = tokens if tokens is not None else tokens_of(chunks)
        ids = self._keep(chunks, vectors, tokens)
        self._index_terms(chunks, postings_of(ids.tolist(), tokens))

    def _keep(self, chunks: list[Chunk], vectors: Vectors, tokens: list[Tokens]) -> np.ndarray:
        """Hold the chunks, their vectors and tokens (all but the BM25 postings); their ids."""
        ids = np.array([c.id for c in chunks], dtype=np.int64)
        self._dense.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        if self._approximate is not None:  # its lists take the new vectors; retrained later
            self._approximate[0].add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)
        self.chunks.update(zip(ids.tolist(), chunks, strict=True))
        self._tokens.update(zip(ids.tolist(), tokens, strict=True))
        self._sorted_ids = _extended(self._sorted_ids, ids)
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
                self._approximate[0].remove_ids(faiss.IDSelectorBatch(np.array(doomed, np.int64)))
            lengths = [len(self._tokens[cid]) for cid in doomed]
            for cid in doomed:
                del self.chunks[cid], self._tokens[cid]
            self._lexical.remove(document_id, doomed, lengths)
            self._sorted_ids = None
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
        """A document's chunks, vectors and tokens, to store."""
        ids = sorted(cid for cid, c in self.chunks.items() if c.document_id == document_id)
        chunks = [self.chunks[cid] for cid in ids]
        return DocumentPart(chunks, self.vectors(ids), self.tokens(ids))

    @classmethod
    def from_parts(
        cls, embedder_name: str, dim: int, next_id: int, parts: Iterable[DocumentPart]
    ) -> SessionIndex:
        index = cls(embedder_name, dim)
        every = list(parts)  # added at once: the BM25 postings built in one pass
        chunks = [chunk for part in every for chunk in part.chunks]
        if chunks:
            ids = index._keep(
                chunks,
                np.concatenate([part.vectors.reshape(-1, dim) for part in every]),
                [terms for part in every for terms in part.tokens],
            )
            terms = [p.terms if p.terms is not None else TermIds.of(p.tokens) for p in every]
            index._index_terms(chunks, postings_of_parts(ids, terms))
        index.next_id = next_id
        return index

    def dense_search(self, query: Vectors, k: int) -> list[Hit]:
        if not self.chunks:
            return []
        k = min(k, len(self.chunks))
        # One query against one session's flat index gains nothing from OpenMP: waking the
        # pool costs more than it shares (the inverted file's longer read sets its own).
        # The setting is per thread, so it is made here, on the worker thread that searches.
        faiss.omp_set_num_threads(1)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if len(self.chunks) >= APPROXIMATE_FROM and k <= APPROXIMATE_DEPTH:
            return self._refined(query, k)
        scores, ids = self._dense.search(query, k)
        found = ids[0] >= 0  # whole arrays to lists: numpy scalars one by one cost 10x
        return list(zip(ids[0][found].tolist(), scores[0][found].tolist(), strict=True))

    def _refined(self, query: Vectors, k: int) -> list[Hit]:
        """The inverted file's best REFINE * k candidates, scored again exactly: the k best,
        ties by id."""
        ivf = self._inverted_file()
        # one question: its threads share the lists, not the questions
        faiss.extract_index_ivf(ivf).parallel_mode = 1
        faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            _, found = ivf.search(query, min(REFINE * k, len(self.chunks)))
        finally:
            faiss.omp_set_num_threads(1)
        ids = found[0][found[0] >= 0]
        scores = self.vectors(ids.tolist()) @ query[0]
        best = np.lexsort((ids, -scores))[:k]
        return list(zip(ids[best].tolist(), scores[best].tolist(), strict=True))

    def _inverted_file(self) -> faiss.Index:
        """The inverted-file index of the vectors, trained (again) when missing or when the
        session has doubled since it was trained: about sqrt(n) lists."""
        with self._approximate_lock:
            if self._approximate is None or len(self.chunks) > 2 * self._approximate[1]:
                ids = self._ids_in_order()
                self._approximate = (_trained(self.vectors(ids.tolist()), ids), len(ids))
            return self._approximate[0]

    def trained_lists(self) -> TrainedLists | None:
        """The inverted file's training (trained now if need be), past APPROXIMATE_FROM
        chunks: what a store keeps, so a cold load neither trains it nor assigns the
        vectors to its lists again."""
        if len(self.chunks) < APPROXIMATE_FROM:
            return None
        ivf = self._inverted_file()
        assert self._approximate is not None  # made by _inverted_file
        empty = faiss.clone_index(ivf)
        empty.reset()
        lists = _lists_of(faiss.extract_index_ivf(ivf), self._ids_in_order())
        return TrainedLists(faiss.serialize_index(empty), self._approximate[1], lists)

    def restore_inverted_file(self, trained: TrainedLists) -> None:
        """The inverted file made again from what `trained_lists` gave: no training, and
        each vector put in its kept list (found again if the lists do not fit the chunks)."""
        ids = self._ids_in_order()
        vectors = np.ascontiguousarray(self.vectors(ids.tolist()), dtype=np.float32)
        ivf = faiss.deserialize_index(np.ascontiguousarray(trained.empty, dtype=np.uint8))
        if len(trained.lists) == len(ids):
            lists = np.ascontiguousarray(trained.lists, dtype=np.int64)
            pointers = (faiss.swig_ptr(a) for a in (vectors, ids, lists))
            faiss.extract_index_ivf(ivf).add_core(len(ids), *pointers)
        else:
            ivf.add_with_ids(vectors, ids)
        with self._approximate_lock:
            self._approximate = (ivf, trained.trained_on)

    def tokens(self, ids: list[int]) -> list[Tokens]:
        """The kept BM25 terms of these chunks, in order."""
        return [self._tokens[cid] for cid in ids]

    def vectors(self, ids: list[int]) -> Vectors:
        """The stored vectors of these chunks, in order."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._dense.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return np.asarray(rows, dtype=np.float32).reshape(len(ids), self.dim)

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


def _extended(ordered: np.ndarray | None, ids: np.ndarray) -> np.ndarray | None:
    """Ids in order with these added, when they come after them all (as reserved ids do),
    so an upload does not make the next question sort the session's ids again."""
    if ordered is None or (len(ordered) and ids.min() <= ordered[-1]):
        return None
    if np.any(np.diff(ids) <= 0):
        return None
    return np.concatenate([ordered, ids])


def _trained(vectors: Vectors, ids: np.ndarray) -> faiss.Index:
    """An inverted file of 8-bit codes over these vectors: k-means on a sample of them."""
    dim = vectors.shape[1]
    lists = max(16, round(LISTS_PER_ROOT * np.sqrt(len(ids))))
    # Lists found by L2 distance to the centroids, not inner product (which favours the
    # centroids of large norm): about half the vectors read for recall 0.99 (growth_bench).
    # faiss.Kmeans is not used: its centroids come back through a SWIG vector type that
    # PyMuPDF registers too. Clustering leaves them in the quantizer.
    kmeans = faiss.ClusteringParameters()
    kmeans.niter, kmeans.max_points_per_centroid = 10, 40  # a sample of 40 a list
    quantizer = faiss.IndexFlatL2(dim)
    faiss.Clustering(dim, lists, kmeans).train(vectors, quantizer)
    ivf = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT, False
    )
    ivf.train(vectors)  # the codes' ranges; the quantizer is trained already
    ivf.add_with_ids(vectors, ids)
    ivf.nprobe = max(1, round(lists * PROBE_SHARE))
    return ivf


def _lists_of(ivf: faiss.IndexIVF, ids: np.ndarray) -> np.ndarray:
    """The list each of these chunks (all the inverted file holds, in order) is in."""
    lists, stored = np.zeros(len(ids), dtype=np.int32), ivf.invlists
    assert stored is not None  # an inverted file holds its own lists
    for number in range(ivf.nlist):
        members = faiss.rev_swig_ptr(stored.get_ids(number), stored.list_size(number))
        lists[np.searchsorted(ids, members)] = number
    return lists
