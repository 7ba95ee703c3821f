"""Retrieval as a session grows: the first question after a document is added to a
~6,000-chunk session against a warm one, and retrieval at 100,000 chunks. Synthetic chunks
(Zipf-distributed words, random unit vectors of wordllama's 256 dimensions): the costs
depend on sizes, not on meaning.

Run alone: `.venv/bin/python bench/growth_bench.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from ragsvc.core.schemas import Chunk  # noqa: E402
from ragsvc.search.index import SessionIndex  # noqa: E402
from ragsvc.search.retrieval import Query, rank  # noqa: E402

DIM = 256
QUESTIONS = ["w3 w150 w2200 w17", "w40 w9 w1234", "w7 w77 w777 w7777 w12"]  # common to rare
DOCUMENT_CHUNKS = 300  # one paper's worth
WORDS = 120  # per chunk


def _texts(rng: np.random.Generator, count: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.3, size=(count, WORDS)), 30_000)
    return [" ".join(f"w{r}" for r in row) for row in ranks]


def _document(index: SessionIndex, rng: np.random.Generator, name: str, count: int) -> None:
    texts = _texts(rng, count)
    chunks = [
        Chunk(id=cid, document_id=name, page=1 + i // 3, text=text)
        for i, (cid, text) in enumerate(zip(index.reserve_ids(count), texts, strict=True))
    ]
    index.add(chunks, _unit(rng, count))


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def session(chunks: int, seed: int = 0) -> SessionIndex:
    rng = np.random.default_rng(seed)
    index = SessionIndex("random", DIM)
    for number in range(chunks // DOCUMENT_CHUNKS):
        _document(index, rng, f"doc{number}", DOCUMENT_CHUNKS)
    return index


def _ask_ms(index: SessionIndex, question: str) -> float:
    vectors = _unit(np.random.default_rng(len(question)), 1)
    started = time.perf_counter()
    rank(index, Query(question=question, top_k=5), vectors)
    return (time.perf_counter() - started) * 1000


def first_after_add(chunks: int = 6_000, rounds: int = 5) -> tuple[float, float]:
    """(first question after an upload, warm question) in ms, medians."""
    index = session(chunks)
    rng = np.random.default_rng(1)
    firsts, warms = [], []
    for number in range(rounds):
        index = index.copy()  # as a store's update publishes a changed copy
        _document(index, rng, f"new{number}", DOCUMENT_CHUNKS)
        firsts.append(_ask_ms(index, QUESTIONS[number % len(QUESTIONS)]))
        warms += [_ask_ms(index, q) for q in QUESTIONS]
    return statistics.median(firsts), statistics.median(warms)


def large(chunks: int = 100_000) -> float:
    """Retrieval p50 in ms at this many chunks."""
    index = session(chunks)
    _ask_ms(index, QUESTIONS[0])
    return statistics.median(_ask_ms(index, q) for q in QUESTIONS * 7)


def rows() -> list[str]:
    first, warm = first_after_add()
    p50 = large()
    return [
        "",
        "## Retrieval as a session grows (`bench/growth_bench.py`)",
        "",
        "| measure | figure | target |",
        "|---|---|---|",
        f"| first question after adding a document to a 6,000-chunk session | {first:.1f} ms "
        f"against {warm:.1f} ms warm: **{first / warm:.2f}x** | <= 3x |",
        f"| retrieval p50 at 100,000 chunks (flat FAISS + BM25, fused) | **{p50:.1f} ms** "
        "| <= 3 ms |",
    ]


if __name__ == "__main__":
    print("\n".join(rows()))
