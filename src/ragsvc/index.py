"""One session's search index: FAISS (dense) + BM25 (lexical) over its chunks.

The only module that imports faiss and bm25s. Vectors live in a flat inner-product index
wrapped in an id map, so a deleted document's chunks leave by id. BM25 is rebuilt from the
chunk texts whenever they change: it takes milliseconds and keeps the two views in step.
All methods are blocking; the use cases call them from worker threads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import faiss
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

from ragsvc.embeddings import Vectors
from ragsvc.errors import IndexMismatch
from ragsvc.schemas import Chunk

Hit = tuple[int, float]  # (chunk id, score)

# bm25s logs every build at DEBUG and draws progress bars unless told not to.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class SessionIndex:
    def __init__(self, embedder_name: str, dim: int) -> None:
        self.embedder_name = embedder_name
        self.dim = dim
        self.chunks: dict[int, Chunk] = {}
        self.next_id = 0
        self._dense: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._lexical: bm25s.BM25 | None = None
        self._tokenizer = _tokenizer()
        self._lexical_ids: list[int] = []

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
        """About how much memory the index holds: the vectors, and the texts thrice (the
        chunks, Python's own overhead, the BM25 postings)."""
        text = sum(len(c.text) + len(c.section or "") for c in self.chunks.values())
        return len(self.chunks) * self.dim * 4 + 3 * text

    def add(self, chunks: list[Chunk], vectors: Vectors) -> None:
        """Add chunks whose ids were taken from `reserve_ids`, with their vectors in order."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        if chunks:
            ids = np.array([c.id for c in chunks], dtype=np.int64)
            self._dense.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            self.chunks.update((c.id, c) for c in chunks)
        self._rebuild_lexical()

    def reserve_ids(self, count: int) -> range:
        ids = range(self.next_id, self.next_id + count)
        self.next_id += count
        return ids

    def remove_document(self, document_id: str) -> int:
        doomed = [cid for cid, c in self.chunks.items() if c.document_id == document_id]
        if doomed:
            self._dense.remove_ids(faiss.IDSelectorBatch(np.array(doomed, dtype=np.int64)))
            for cid in doomed:
                del self.chunks[cid]
            self._rebuild_lexical()
        return len(doomed)

    def dense_search(self, query: Vectors, k: int) -> list[Hit]:
        if not self.chunks:
            return []
        k = min(k, len(self.chunks))
        # One query against one session's flat index gains nothing from OpenMP, and the
        # pool's idle threads spin after each search: measured 7.7 ms of CPU per question
        # burnt on 2 cores that concurrent requests need. The setting is per thread, so it
        # is made here, on the worker thread that searches.
        faiss.omp_set_num_threads(1)
        scores, ids = self._dense.search(np.ascontiguousarray(query.reshape(1, -1)), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self, ids: list[int]) -> Vectors:
        """The stored vectors of these chunks, in order."""
        rows = [self._dense.reconstruct(int(i)) for i in ids]
        return np.array(rows, dtype=np.float32).reshape(len(ids), self.dim)

    def lexical_search(self, query: str, k: int) -> list[Hit]:
        if self._lexical is None or not self._lexical_ids:
            return []
        tokens = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )
        k = min(k, len(self._lexical_ids))
        docs, scores = self._lexical.retrieve(tokens, k=k, show_progress=False)
        return [
            (self._lexical_ids[int(d)], float(s))
            for d, s in zip(docs[0], scores[0], strict=True)
            if s > 0
        ]

    def _rebuild_lexical(self) -> None:
        self._lexical_ids = sorted(self.chunks)
        self._tokenizer = _tokenizer()
        if not self._lexical_ids:
            self._lexical = None
            return
        texts = [self.chunks[cid].search_text for cid in self._lexical_ids]
        tokens = self._tokenizer.tokenize(
            texts, update_vocab=True, return_as="ids", show_progress=False
        )
        self._lexical = bm25s.BM25()
        self._lexical.index(tokens, show_progress=False)
        # String keys, as a saved and reloaded index has them: bm25s writes the vocabulary
        # with orjson when installed, which rejects the int keys the stdlib json converts.
        self._lexical.vocab_dict = {str(k): v for k, v in self._lexical.vocab_dict.items()}

    def save(self, folder: Path) -> None:
        """Write every part into an empty folder; the store makes the folder live atomically."""
        folder.mkdir(parents=True, exist_ok=False)
        meta = {
            "embedder": self.embedder_name,
            "dim": self.dim,
            "next_id": self.next_id,
            "lexical_ids": self._lexical_ids,
        }
        (folder / "index.json").write_text(json.dumps(meta))
        with (folder / "chunks.jsonl").open("w") as out:
            for chunk in self.chunks.values():
                out.write(chunk.model_dump_json() + "\n")
        faiss.write_index(self._dense, str(folder / "dense.faiss"))
        if self._lexical is not None:
            self._lexical.save(str(folder / "bm25"), show_progress=False)
            self._tokenizer.save_vocab(str(folder / "bm25"))

    @classmethod
    def load(cls, folder: Path) -> SessionIndex:
        meta = json.loads((folder / "index.json").read_text())
        index = cls(meta["embedder"], meta["dim"])
        index.next_id = meta["next_id"]
        with (folder / "chunks.jsonl").open() as lines:
            chunks = (Chunk.model_validate_json(line) for line in lines if line.strip())
            index.chunks = {c.id: c for c in chunks}
        index._dense = faiss.read_index(str(folder / "dense.faiss"))
        index._lexical_ids = meta["lexical_ids"]
        if index._lexical_ids:
            index._lexical = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
            index._tokenizer.load_vocab(str(folder / "bm25"))
        return index


def _tokenizer() -> Tokenizer:
    return Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")
