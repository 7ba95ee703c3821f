"""Ingest throughput: ragsvc over HTTP vs the tutorial LangChain stack vs the raw embedder.

All use the same embedding model on the same PDF:
- ragsvc: `POST /upload` to a real server process (one keep-alive client, a new session
  each time), timed until the document is ready;
- baseline: PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + FAISS.from_documents,
  embedding with wordllama's own `embed()` as a tutorial would, and again with ragsvc's
  faster pooling of the same model, so the speed-up is not only the embedding;
- raw embedder: embedding ragsvc's own chunk texts, nothing else;
- physical floor (issue 25): PyMuPDF's plain text of every page, in this process, plus the
  wordllama embedding of each page's text: what any ingest of the PDF must at least do.

`python bench/ingest_bench.py [rounds]` prints the targets row for DeepSeek-R1: upload to
ready against the physical floor (target <= 2.0x) and the speed-up over the LangChain stack
(target >= 4x), each as the median and the range over the rounds (each round measures the
three in turn, so each ratio is taken within one round).
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ragsvc.core.config import Settings
from ragsvc.eval.tutorial_stack import tutorial_index
from ragsvc.ingest.steps import IngestOptions, UploadedFile, new_document, prepare
from ragsvc.pdf.mupdf import pdf_from
from ragsvc.runtime.app_state import options
from ragsvc.search.embedders import WordLlamaEmbedder


@dataclass
class IngestResult:
    name: str
    pages: int
    chunks: int
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self) -> str:
        t = self.median
        return (
            f"| {self.name} | {self.pages} | {self.chunks} | {t * 1000:.0f} | "
            f"{self.pages / t:.0f} | {self.chunks / t:.0f} |"
        )


EmbedFn = Callable[[list[str]], Any]


def wordllama_own(model: WordLlamaEmbedder) -> EmbedFn:
    """The model through wordllama's public `embed()`, the way a tutorial calls it."""
    return lambda texts: model._model.embed(texts, norm=True)


def ragsvc_http(base: str, pdf: Path, rounds: int, label: str = "") -> IngestResult:
    seconds, pages, chunks = [], 0, 0
    data = pdf.read_bytes()
    with httpx.Client(base_url=base, timeout=600) as http:
        for _ in range(rounds):
            http.cookies.clear()  # no session cookie: each upload starts a new session
            started = time.perf_counter()
            reply = http.post("/upload", files={"files": (pdf.name, data)})
            seconds.append(time.perf_counter() - started)
            assert reply.status_code == 201, reply.text
            doc = reply.json()["documents"][0]
            assert doc["status"] == "ready"
            pages, chunks = doc["pages"], doc["chunks"]
    return IngestResult(f"ragsvc (HTTP upload until ready){label}", pages, chunks, seconds)


def langchain_baseline(pdf: Path, embed: EmbedFn, rounds: int, label: str) -> IngestResult:
    """The tutorial stack's index of the PDF (ragsvc.eval.tutorial_stack, the one `make eval`
    scores), built `rounds` times."""
    from pypdf import PdfReader

    seconds, chunks = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        chunks = tutorial_index({pdf.name: pdf}, embed).index.ntotal
        seconds.append(time.perf_counter() - started)
    pages = len(PdfReader(pdf).pages)
    return IngestResult(f"LangChain baseline, {label}", pages, chunks, seconds)


def raw_embedder(pdf: Path, embed: EmbedFn, rounds: int, label: str = "") -> IngestResult:
    upload = UploadedFile(pdf.name, pdf.read_bytes())
    item = prepare(upload, new_document(upload), options(Settings(), IngestOptions))
    texts = [chunk.search_text for chunk in item.drafts]
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        vectors = embed(texts)
        seconds.append(time.perf_counter() - started)
    assert isinstance(vectors, np.ndarray)
    return IngestResult(
        f"raw embedder alone (same chunks){label}", item.document.pages, len(texts), seconds
    )


def physical_floor(pdf: Path, embed: EmbedFn, rounds: int) -> IngestResult:
    """PyMuPDF's plain text of every page plus the embedding of each page's text, serially
    in this process: the work no ingest of the PDF can skip (the issue's floor)."""
    data, seconds, pages = pdf.read_bytes(), [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        with pdf_from(data) as doc:
            texts = [page.get_text() for page in doc]
        embed(texts)
        seconds.append(time.perf_counter() - started)
        pages = len(texts)
    return IngestResult("physical floor (PyMuPDF text + wordllama)", pages, pages, seconds)


@dataclass
class Targets:
    """Upload-to-ready, the physical floor and the LangChain stack, measured in turn per
    round, so each round gives its own two ratios."""

    served: IngestResult
    floor: IngestResult
    langchain: IngestResult

    @property
    def over_floor(self) -> list[float]:
        return [s / f for s, f in zip(self.served.seconds, self.floor.seconds, strict=True)]

    @property
    def speedup(self) -> list[float]:
        return [b / s for s, b in zip(self.served.seconds, self.langchain.seconds, strict=True)]

    def section(self, name: str) -> list[str]:
        """A section of docs/benchmarks.md: the targets, then `rows`."""
        return [
            "## Ingest against its physical floor (issue 25)",
            "",
            f"Upload to ready of {name} within 2.0x its physical floor (PyMuPDF's plain text of "
            "every page plus the wordllama embedding of each page's text, serially in the "
            "bench's process) and at least 4x faster than the LangChain stack (wordllama's own "
            "`embed()`), in every round:",
            "",
            *self.rows(name),
            "",
        ]

    def rows(self, name: str) -> list[str]:
        def spread(values: list[float], scale: float = 1.0, fmt: str = ".2f") -> str:
            low, mid, high = min(values), statistics.median(values), max(values)
            return f"{mid * scale:{fmt}} ({low * scale:{fmt}}-{high * scale:{fmt}})"

        ms = {"scale": 1000.0, "fmt": ".0f"}
        return [
            "| PDF | rounds | upload to ready, ms | physical floor, ms | ratio (target <= 2.0) "
            "| LangChain stack, ms | speed-up (target >= 4) |",
            "|---|---|---|---|---|---|---|",
            f"| {name} | {len(self.over_floor)} | {spread(self.served.seconds, **ms)} "
            f"| {spread(self.floor.seconds, **ms)} | {spread(self.over_floor)}x "
            f"| {spread(self.langchain.seconds, **ms)} | {spread(self.speedup)}x |",
            "",
            "Each cell: median (min-max) over the rounds; each ratio is taken within a round.",
        ]


def targets(base: str, pdf: Path, model: WordLlamaEmbedder, rounds: int) -> Targets:
    """`rounds` rounds of: one upload to the server at `base`, the floor, the LangChain
    stack (wordllama's own embed(), as a tutorial calls it)."""
    runs = [
        (
            ragsvc_http(base, pdf, 1),
            physical_floor(pdf, model.embed_sync, 1),
            langchain_baseline(pdf, wordllama_own(model), 1, "wordllama.embed"),
        )
        for _ in range(rounds)
    ]
    served, floor, langchain = (
        IngestResult(first.name, first.pages, first.chunks, [r[i].seconds[0] for r in runs])
        for i, first in enumerate(runs[0])
    )
    return Targets(served, floor, langchain)


def main(rounds: int) -> None:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from tests.support.server import running_server

    paper = root.parent / "shared" / "data" / "DeepSeek_R1.pdf"
    model = WordLlamaEmbedder()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    unlimited = {"RAGSVC_SESSION_RATE_PER_MINUTE": "0"}  # every upload makes a session
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_server(Path(scratch) / "data", **unlimited) as base,
    ):
        ragsvc_http(base, paper, 2)  # warm: the page workers start with the server
        physical_floor(paper, model.embed_sync, 1)
        langchain_baseline(paper, wordllama_own(model), 1, "warm-up")
        found = targets(base, paper, model, rounds)
    print("\n".join(found.section("DeepSeek-R1")))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
