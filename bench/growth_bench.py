"""Retrieval as a session grows: the first question after a document is added to a
~6,000-chunk session against a warm one (synthetic chunks: Zipf-distributed words, random
unit vectors, as the cost depends on sizes), and retrieval at 100,000 chunks with the
inverted file's recall@10 against flat search. Recall depends on how vectors cluster, so
those chunks are real: four sentences drawn from a 40-sentence stretch of one of the
shared PDFs, embedded with wordllama, asked the eval set's questions. And a 50,000-chunk
session loaded cold by each store (the machine's PostgreSQL, a schema of its own, dropped
after), then asked its first question.

Run alone: `.venv/bin/python bench/growth_bench.py`.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import anyio  # noqa: E402
import psycopg  # noqa: E402
import pymupdf  # noqa: E402

from ragsvc.core.schemas import Chunk, Document  # noqa: E402
from ragsvc.search.embedders import WordLlamaEmbedder  # noqa: E402
from ragsvc.search.index import SessionIndex  # noqa: E402
from ragsvc.search.retrieval import Query, rank  # noqa: E402
from ragsvc.storage.disk.store import DiskStore  # noqa: E402
from ragsvc.storage.memory import malloc_arenas_per_core  # noqa: E402
from ragsvc.storage.postgres.store import PostgresStore  # noqa: E402
from ragsvc.storage.records import SessionState  # noqa: E402
from ragsvc.text.sentences import split_sentences  # noqa: E402

DIM = 256
SHARED = ROOT.parent / "shared"
QUESTIONS = ["w3 w150 w2200 w17", "w40 w9 w1234", "w7 w77 w777 w7777 w12"]  # common to rare
DOCUMENT_CHUNKS = 300  # one paper's worth
WORDS = 120  # per chunk
POSTGRES = os.environ.get("RAGSVC_BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


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


def _real_texts(rng: np.random.Generator, count: int) -> list[str]:
    """Texts of four sentences of one 40-sentence stretch of a shared PDF each."""
    papers = {}
    for pdf in sorted((SHARED / "data").glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            papers[pdf.stem] = split_sentences(" ".join(page.get_text() for page in doc))
    names = [name for name, sentences in papers.items() if len(sentences) > 40]
    texts = []
    for _ in range(count):
        sentences = papers[names[rng.integers(len(names))]]
        start = int(rng.integers(len(sentences) - 40))
        picked = sorted(rng.choice(40, size=4, replace=False))
        texts.append(" ".join(sentences[start + p] for p in picked))
    return texts


def _questions() -> list[str]:
    lines = (line for path in sorted((SHARED / "eval").glob("*.jsonl")) for line in path.open())
    return [json.loads(line)["question"] for line in lines if line.strip()]


def large(chunks: int = 100_000) -> tuple[float, float, float]:
    """(retrieval p50 ms, dense search p50 ms, inverted file's recall@10 against flat)."""
    rng = np.random.default_rng(2)
    embedder = WordLlamaEmbedder()
    texts = _real_texts(rng, chunks)
    index = SessionIndex(embedder.name, DIM)
    batch = 5_000
    for first in range(0, chunks, batch):
        part = texts[first : first + batch]
        ids = index.reserve_ids(len(part))
        made = [
            Chunk(id=i, document_id=f"d{i // 300}", page=1, text=t)
            for i, t in zip(ids, part, strict=True)
        ]
        index.add(made, embedder.embed_sync(part))
    questions = _questions()
    vectors = embedder.embed_sync(questions)
    found = 0
    for vector in vectors:  # the first search trains the inverted file
        approximate = {cid for cid, _ in index.dense_search(vector, 10)}
        _, flat = index._dense.search(vector.reshape(1, -1), 10)
        found += len(approximate & set(flat[0].tolist()))
    ranks, dense = [], []
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        rank(index, Query(question=question, top_k=5), vector.reshape(1, -1))
        ranks.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.dense_search(vector, 50)
        dense.append((time.perf_counter() - started) * 1000)
    return statistics.median(ranks), statistics.median(dense), found / (10 * len(vectors))


def _stored(store: Any, index: SessionIndex) -> str:
    """Publish the index through the store's own write path as a new session's; its token
    hash."""
    token_hash = uuid.uuid4().hex * 2
    anyio.run(store.create_session, token_hash, timedelta(hours=1))
    documents = {
        name: Document(
            id=name,
            filename=f"{name}.pdf",
            sha256="0" * 64,
            pages=100,
            chunks=DOCUMENT_CHUNKS,
            status="ready",
            created_at=datetime.now(UTC),
        )
        for name in index.document_ids()
    }

    def publish(state: SessionState) -> None:
        state.documents.update(documents)
        state.index = index

    anyio.run(store.update, token_hash, publish)
    return token_hash


def _cold_loads(new_store: Callable[[], Any], index: SessionIndex) -> tuple[float, ...]:
    """(cold load s, its CPU s, the kernel's share of that CPU, the first question's s)
    medians of 3, each load by a fresh store (nothing cached). CPU is this process's: on a
    shared machine, wall time also counts the waits for a core; PostgreSQL's own work is
    not in it. The kernel's share is mostly fresh pages zeroed, which varies with what the
    process freed before."""
    token_hash = _stored(new_store(), index)
    runs = []
    for number in range(3):
        store = new_store()
        started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        state = anyio.run(store.load_state, token_hash)
        after = resource.getrusage(resource.RUSAGE_SELF)
        kernel = after.ru_stime - before.ru_stime
        cpu = after.ru_utime - before.ru_utime + kernel
        loaded = (time.perf_counter() - started, cpu, kernel)
        assert state.index is not None and len(state.index) == len(index)
        runs.append((*loaded, _ask_ms(state.index, QUESTIONS[number]) / 1000))
        del state, store
        gc.collect()
    return tuple(statistics.median(figures) for figures in zip(*runs, strict=True))


@contextmanager
def _postgres_schema() -> Iterator[str | None]:
    """A URL on a schema of its own in the machine's PostgreSQL, dropped after; None when no
    PostgreSQL answers."""
    schema = f"ragsvc_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        yield None
        return
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def cold_load(chunks: int = 50_000) -> dict[str, tuple[float, ...]]:
    """(cold load s, its CPU s, the kernel's share, the first question's s) per store: a
    session written through the store's publish path, loaded by a store that has not
    cached it."""
    index = session(chunks)
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        figures["disk"] = _cold_loads(lambda: DiskStore(Path(scratch)), index)
    with _postgres_schema() as url:
        if url is not None:
            stores: list[PostgresStore] = []

            def new_store() -> PostgresStore:
                stores.append(PostgresStore(url))
                return stores[-1]

            figures["PostgreSQL"] = _cold_loads(new_store, index)
            for store in stores:
                anyio.run(store.aclose)
    return figures


def _cold_rows() -> list[str]:
    return [
        f"| 50,000-chunk session cold load, {name} store | **{load:.2f} s** ({cpu:.2f} s of "
        f"CPU, {kernel:.2f} s of it in the kernel), then the first question "
        f"{first * 1000:.0f} ms | <= 2 s |"
        for name, (load, cpu, kernel, first) in cold_load().items()
    ]


def rows() -> list[str]:
    malloc_arenas_per_core()  # as the server's app factory does, before any thread starts
    first, warm = first_after_add()
    p50, dense, recall = large()
    return [
        "",
        "## Retrieval as a session grows (`bench/growth_bench.py`)",
        "",
        "| measure | figure | target |",
        "|---|---|---|",
        f"| first question after adding a document to a 6,000-chunk session | {first:.1f} ms "
        f"against {warm:.1f} ms warm: **{first / warm:.2f}x** | <= 3x |",
        f"| retrieval p50 at 100,000 chunks (inverted file + BM25, fused) | **{p50:.1f} ms** "
        f"(dense search {dense:.2f} ms) | <= 3 ms |",
        f"| the inverted file's recall@10 against flat search, 100,000 chunks | **{recall:.3f}** "
        "| >= 0.99 |",
        *_cold_rows(),
    ]


if __name__ == "__main__":
    print("\n".join(rows()))
