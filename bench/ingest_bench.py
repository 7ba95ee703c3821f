"""Ingest throughput: ragsvc over HTTP vs the tutorial LangChain stack vs the raw embedder.

All three use the same embedder (the bundled wordllama) on the same PDF:
- ragsvc: `POST /upload` to a real server process, timed until the document is ready;
- baseline: PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + FAISS.from_documents;
- raw embedder: embedding ragsvc's own chunk texts, nothing else (the pipeline's floor).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from langchain_core.embeddings import Embeddings

from ragsvc.config import Settings
from ragsvc.embeddings import WordLlamaEmbedder
from ragsvc.ingestion import UploadedFile, new_document, prepare


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


class WordLlamaForLangChain(Embeddings):
    """LangChain's Embeddings interface over the same bundled model ragsvc uses."""

    def __init__(self, model: WordLlamaEmbedder) -> None:
        self._model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed_sync(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed_sync([text])[0].tolist()  # type: ignore[no-any-return]


def ragsvc_http(base: str, pdf: Path, rounds: int) -> IngestResult:
    seconds, pages, chunks = [], 0, 0
    data = pdf.read_bytes()
    for _ in range(rounds):
        started = time.perf_counter()
        reply = httpx.post(f"{base}/upload", files={"files": (pdf.name, data)}, timeout=600)
        seconds.append(time.perf_counter() - started)
        assert reply.status_code == 201, reply.text
        doc = reply.json()["documents"][0]
        assert doc["status"] == "ready"
        pages, chunks = doc["pages"], doc["chunks"]
    return IngestResult("ragsvc (HTTP upload until ready)", pages, chunks, seconds)


def langchain_baseline(pdf: Path, model: WordLlamaEmbedder, rounds: int) -> IngestResult:
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = WordLlamaForLangChain(model)
    seconds, pages, chunks = [], 0, 0
    for _ in range(rounds):
        started = time.perf_counter()
        documents = PyPDFLoader(str(pdf)).load()
        splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
            documents
        )
        FAISS.from_documents(splits, embeddings)  # type: ignore[arg-type]
        seconds.append(time.perf_counter() - started)
        pages, chunks = len(documents), len(splits)
    return IngestResult("LangChain baseline (same embedder)", pages, chunks, seconds)


def raw_embedder(pdf: Path, model: WordLlamaEmbedder, rounds: int) -> IngestResult:
    upload = UploadedFile(pdf.name, pdf.read_bytes())
    item = prepare(upload, new_document(upload), Settings())
    texts = [chunk.search_text for chunk in item.drafts]
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        vectors = model.embed_sync(texts)
        seconds.append(time.perf_counter() - started)
    assert isinstance(vectors, np.ndarray)
    return IngestResult(
        "raw embedder alone (same chunks)", item.document.pages, len(texts), seconds
    )
