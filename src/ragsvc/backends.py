"""The one place that turns settings into backend objects (embedder, generator, store)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import openai

from ragsvc.config import Settings
from ragsvc.embeddings import (
    Embedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    WordLlamaEmbedder,
)
from ragsvc.extractive import ExtractiveGenerator
from ragsvc.generation import Generator, LlamaGenerator, OpenAIGenerator
from ragsvc.pdf_workers import PdfWorkers
from ragsvc.store import DiskStore, Store


@dataclass
class Backends:
    embedder: Embedder
    generator: Generator
    store: Store
    client: openai.AsyncOpenAI | None = None  # shared by the openai backends; owned here
    pdf_workers: PdfWorkers | None = None  # processes extracting PDF pages; owned here

    async def aclose(self) -> None:
        """Release pooled connections to the OpenAI-compatible server; stop the workers."""
        if self.client is not None:
            await self.client.close()
        if self.pdf_workers is not None:
            await anyio.to_thread.run_sync(self.pdf_workers.close)


def openai_client(settings: Settings) -> openai.AsyncOpenAI:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        # Local servers (vLLM, Ollama, llama.cpp) accept any key, but the client wants one.
        api_key=key or "not-needed",
        timeout=settings.backend_timeout_s,
        max_retries=settings.backend_retries,
    )


def make_backends(settings: Settings) -> Backends:
    """Build what the settings name; blocking (loads models), so call it off the event loop."""
    client = (
        openai_client(settings) if "openai" in (settings.embedder, settings.generator) else None
    )
    embedder: Embedder
    if settings.embedder == "openai":
        assert client is not None
        embedder = OpenAIEmbedder(client, settings.embedding_model, settings.embedding_batch)
    elif settings.embedder == "st":
        embedder = SentenceTransformerEmbedder(settings.st_model, settings.embedding_batch)
    else:
        embedder = WordLlamaEmbedder()
    generator: Generator
    if settings.generator == "openai":
        assert client is not None
        generator = OpenAIGenerator(
            client, settings.llm_model, settings.llm_temperature, settings.llm_max_tokens
        )
    elif settings.generator == "llama":
        generator = LlamaGenerator(
            settings.llama_model,
            settings.llama_threads,
            settings.llama_context,
            settings.llm_max_tokens,
        )
    else:
        generator = ExtractiveGenerator(embedder)
    workers = PdfWorkers(settings.parse_workers) if settings.parse_workers else None
    return Backends(embedder, generator, DiskStore(settings.data_dir), client, workers)
