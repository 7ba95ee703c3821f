"""The inverted file that searches a large session's vectors: k-means lists holding 4-bit
product-quantized codes, scanned with SIMD lookup tables (FAISS's fast scan), whose best
candidates the caller scores again with the vectors themselves.

Questions sit far from the passages they match (their best scores lie close together), so
a search must read about a third of the lists for recall@10 0.99 against flat search
(growth_bench). Codes of two dimensions in 4 bits are a quarter of 8-bit codes' bytes and
are scanned in registers: reading the same share of lists took 0.7 ms against 2.9 ms for
8-bit codes at 100,000 real chunks, one thread each. They are coarser, so more candidates
are scored again (CANDIDATES): recall@10 stayed at 0.997 there.

The codes are kept in a plain product-quantized inverted file, which FAISS can add to,
remove from, copy and fill from kept lists; the fast-scan form (its codes packed in
blocks, which FAISS cannot fill from given lists) is made from it at the first search
after a change (about 3 ms at 20,000 vectors).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import faiss
import numpy as np

from ragsvc.search.embedders import Vectors

LISTS_PER_ROOT = 1.6  # lists: this many times the square root of the number of vectors
PROBE_SHARE = 0.35  # share of the lists read per search
CANDIDATES = 600  # fewest codes' best scored again exactly (recall@10 0.993 at 400)
REFINE = 12  # deeper searches score again this many times the hits asked for
DIMS_PER_CODE = 2  # dimensions per 4-bit code
CODE_ITERATIONS = 10  # k-means passes of each code book: 25 (FAISS's) took 3x as long, same recall


@dataclass(frozen=True)
class TrainedLists:
    """What an inverted file keeps, for a store to keep: the file (as FAISS serializes it:
    centroids, code books, what is probed, and each chunk's code and id), how many vectors
    it was trained on, and the list of each chunk (chunks in id order)."""

    file: np.ndarray  # uint8
    trained_on: int
    lists: np.ndarray  # int32


class InvertedFile:
    """An inverted file over a session's vectors, and how many it was trained on."""

    def __init__(self, codes: faiss.IndexIVFPQ, trained_on: int) -> None:
        self._codes = codes
        self.trained_on = trained_on
        self._scan: faiss.IndexIVFPQFastScan | None = None  # made from _codes when searched
        self._scan_lock = threading.Lock()

    @classmethod
    def trained(cls, vectors: Vectors, ids: np.ndarray) -> InvertedFile:
        """Trained on these vectors (k-means lists, code books) and holding them."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        codes = _trained(vectors)
        codes.add_with_ids(vectors, ids)
        return cls(codes, len(ids))

    @classmethod
    def restored(
        cls, trained: TrainedLists, vectors: Vectors, ids: np.ndarray
    ) -> InvertedFile | None:
        """The file `kept` gave, untrained, holding these vectors (ids in order): as kept
        when it holds those very chunks (ids are never reused), so nothing is encoded
        again (0.3 s at 50,000 chunks); else filled again. None when the kept file is of
        another kind (an older release's)."""
        codes = faiss.deserialize_index(np.ascontiguousarray(trained.file, dtype=np.uint8))
        if not isinstance(codes, faiss.IndexIVFPQ):
            return None
        if codes.ntotal == len(ids) and np.array_equal(np.sort(_ids_held(codes)), ids):
            return cls(codes, trained.trained_on)
        codes.reset()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(trained.lists) == len(ids):  # each vector put in its kept list
            lists = np.ascontiguousarray(trained.lists, dtype=np.int64)
            pointers = (faiss.swig_ptr(a) for a in (vectors, ids, lists))
            codes.add_core(len(ids), *pointers)
        else:  # the lists do not fit the chunks: found again
            codes.add_with_ids(vectors, ids)
        return cls(codes, trained.trained_on)

    def copy(self) -> InvertedFile:
        return InvertedFile(cast(faiss.IndexIVFPQ, faiss.clone_index(self._codes)), self.trained_on)

    def add(self, vectors: Vectors, ids: np.ndarray) -> None:
        self._codes.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._scan = None

    def remove(self, ids: list[int]) -> None:
        self._codes.remove_ids(faiss.IDSelectorBatch(np.array(ids, dtype=np.int64)))
        self._scan = None

    def candidates(self, query: Vectors, k: int) -> np.ndarray:
        """The ids of the best codes to score again for the k best hits (blocking)."""
        count = min(max(CANDIDATES, REFINE * k), self._codes.ntotal)
        _, found = self._scanned().search(query.reshape(1, -1), count)
        ids: np.ndarray = found[0][found[0] >= 0]
        return ids

    def kept(self, ids: np.ndarray) -> TrainedLists:
        """What a store keeps to restore this file: the file itself, and the list of each
        of these vectors (all the file holds, ids in order)."""
        return TrainedLists(faiss.serialize_index(self._codes), self.trained_on, self._lists(ids))

    @property
    def bytes_per_vector(self) -> int:
        """Its codes' bytes for one vector, twice over (kept, and packed for the scan)."""
        return 2 * self._codes.code_size

    def _scanned(self) -> faiss.IndexIVFPQFastScan:
        with self._scan_lock:
            if self._scan is None:
                scan = faiss.IndexIVFPQFastScan(self._codes)
                scan.nprobe = self._codes.nprobe
                self._scan = scan
            return self._scan

    def _lists(self, ids: np.ndarray) -> np.ndarray:
        lists = np.zeros(len(ids), dtype=np.int32)
        for number, members in _members(self._codes):
            lists[np.searchsorted(ids, members)] = number
        return lists


def _ids_held(codes: faiss.IndexIVF) -> np.ndarray:
    """The ids of every vector the file holds, list after list."""
    held = [members for _, members in _members(codes)]
    return np.concatenate(held) if held else np.zeros(0, dtype=np.int64)


def _members(codes: faiss.IndexIVF) -> Iterator[tuple[int, np.ndarray]]:
    """Each list's number and the ids it holds (a view of FAISS's memory), empty lists
    left out."""
    stored = codes.invlists
    assert stored is not None  # an inverted file holds its own lists
    for number in range(codes.nlist):
        if size := stored.list_size(number):
            yield number, faiss.rev_swig_ptr(stored.get_ids(number), size)


def _trained(vectors: Vectors) -> faiss.IndexIVFPQ:
    """An empty inverted file of 4-bit codes, trained: k-means lists on a sample of the
    vectors, a code book per pair of dimensions."""
    dim = vectors.shape[1]
    lists = max(16, round(LISTS_PER_ROOT * np.sqrt(len(vectors))))
    # Lists found by L2 distance to the centroids, not inner product (which favours the
    # centroids of large norm): about half the vectors read for recall 0.99 (growth_bench).
    # faiss.Kmeans is not used: its centroids come back through a SWIG vector type that
    # PyMuPDF registers too. Clustering leaves them in the quantizer.
    kmeans = faiss.ClusteringParameters()
    kmeans.niter, kmeans.max_points_per_centroid = 10, 40  # a sample of 40 a list
    quantizer = faiss.IndexFlatL2(dim)
    faiss.Clustering(dim, lists, kmeans).train(vectors, quantizer)
    codes = faiss.IndexIVFPQ(
        quantizer, dim, lists, dim // DIMS_PER_CODE, 4, faiss.METRIC_INNER_PRODUCT
    )
    codes.by_residual = False  # residuals to inner-product lists lose the ranking
    codes.pq.cp.niter = CODE_ITERATIONS
    codes.train(vectors)  # the code books; the quantizer is trained already
    codes.nprobe = max(1, round(lists * PROBE_SHARE))
    return codes
