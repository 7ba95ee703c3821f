"""Ingest throughput: ragsvc over HTTP vs the tutorial LangChain stack vs the raw embedder.

All use the same embedding model on the same PDF:
- ragsvc: `POST /upload` to a real server process (one keep-alive client, a new session
  each time), timed until the document is ready;
- baseline: PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + FAISS.from_documents,
  embedding with wordllama's own `embed()` as a tutorial would, and again with ragsvc's
  faster pooling of the same model, so the speed-up is not only the embedding;
- raw embedder: embedding ragsvc's own chunk texts, nothing else (the pipeline's floor).
"""

from __future__ import annotations

import statistics
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
