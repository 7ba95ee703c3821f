"""The one place that turns settings into backend objects: embedder, generator, store, the
PDF page workers, the Redis client replicas share and the queue of background ingests. No
other module asks which backend the settings name (tests/project/test_layers.py checks)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import openai
from redis.asyncio import BlockingConnectionPool, Redis

from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.answer.generators import Generator, LlamaGenerator, OpenAIGenerator, Sampling
from ragsvc.core.config import Settings
from ragsvc.ingest.job_queue import IngestQueue
from ragsvc.pdf.ocr import ocr_unavailable
from ragsvc.pdf.page_workers import PdfWorkers, WorkerLimits
from ragsvc.search.embedders import (
    E5Embedder,
    Embedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    WordLlamaEmbedder,
)
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.postgres.migrate import migrate
from ragsvc.storage.postgres.row_leases import LEASE_S
from ragsvc.storage.postgres.store import PostgresStore
from ragsvc.storage.protocols import Store

REDIS_CONNECTIONS = 64  # per process; a replica's readers of other replicas' logs hold one each
REDIS_WAIT_S = 5.0


@dataclass
class Backends:
    embedder: Embedder
    generator: Generator
    store: Store
    client: openai.AsyncOpenAI | None = None  # shared by the openai backends; owned here
    pdf_workers: PdfWorkers | None = None  # processes extracting PDF pages; owned here

    def abort_work(self) -> None:
        """Shutting down: end the page extractions under way now (see PdfWorkers.abort)."""
        if self.pdf_workers is not None:
            self.pdf_workers.abort()

    async def aclose(self) -> None:
        """Release pooled connections to the OpenAI-compatible server; stop the workers."""
        if self.client is not None:
            await self.client.close()
        if self.pdf_workers is not None:
            await anyio.to_thread.run_sync(self.pdf_workers.close)
        await self.store.aclose()


def openai_client(settings: Settings) -> openai.AsyncOpenAI:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        # Local servers (vLLM, Ollama, llama.cpp) accept any key, but the client wants one.
        api_key=key or "not-needed",
        timeout=settings.backend_timeout_s,
        max_retries=settings.backend_retries,
    )


def make_backends(settings: Settings, lease_s: float | None = None) -> Backends:
    """Build what the settings name; blocking (loads models), so call it off the event loop.
    `lease_s`: how long the leases of a PostgreSQL store outlive this process."""
    if settings.ocr == "auto" and (problem := ocr_unavailable(settings.ocr_language)):
        raise RuntimeError(f"RAGSVC_OCR=auto, but {problem}")
    uses_openai = "openai" in (settings.embedder, settings.generator)
    client = openai_client(settings) if uses_openai else None
    embedder = _embedder(settings, client)
    generator = _generator(settings, client, embedder)
    limits = WorkerLimits(settings.parse_timeout_s, settings.parse_memory_mb)
    workers = PdfWorkers(settings.parse_workers, limits) if settings.parse_workers else None
    return Backends(embedder, generator, make_store(settings, lease_s), client, workers)


def make_store(settings: Settings, lease_s: float | None = None) -> Store:
    """The store the settings name: blocking (a database store migrates its schema)."""
    if settings.store == "postgres":
        assert settings.database_url is not None  # Settings checks it
        url = settings.database_url.get_secret_value()
        return PostgresStore(url, settings.cache_mb, lease_s or LEASE_S)
    return DiskStore(settings.data_dir, settings.cache_mb, settings.min_free_mb)


def check_storage(settings: Settings) -> None:
    """Blocking: fail now, with the reason, on an unusable data directory (DataDirUnusable)
    or a database that does not answer (psycopg.Error); the database's schema is migrated."""
    if settings.store == "postgres":
        assert settings.database_url is not None  # Settings checks it
        migrate(settings.database_url.get_secret_value())
    else:
        DiskStore(settings.data_dir)


def takes_queued_ingests(settings: Settings) -> bool:
    """Whether background ingests are queued for `ragsvc worker` (RAGSVC_INGEST_QUEUE)."""
    return settings.ingest_queue == "redis"


def make_ingest_queue(settings: Settings) -> IngestQueue | None:
    """The queue of background ingests, when workers take them (RAGSVC_INGEST_QUEUE)."""
    if not takes_queued_ingests(settings) or settings.redis_url is None:
        return None
    # A job parses (bounded by RAGSVC_PARSE_TIMEOUT_S), embeds and commits: ten times the
    # parse budget leaves room for a slow embedding server.
    return IngestQueue(settings.redis_url, 10 * settings.parse_timeout_s)


def shared_redis(url: str) -> Redis:
    """A client on RAGSVC_REDIS_URL whose requests wait for one of its connections (up to
    REDIS_WAIT_S) rather than fail: under 200 streams, the default pool's 100 ran out."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S
    )
    return Redis.from_pool(pool)  # owns the pool: closing the client closes it


def _embedder(settings: Settings, client: openai.AsyncOpenAI | None) -> Embedder:
    if settings.embedder == "openai":
        assert client is not None
        return OpenAIEmbedder(client, settings.embedding_model, settings.embedding_batch)
    if settings.embedder == "st":
        return SentenceTransformerEmbedder(settings.st_model, settings.embedding_batch)
    if settings.embedder == "e5":
        return E5Embedder()
    return WordLlamaEmbedder()


def _generator(
    settings: Settings, client: openai.AsyncOpenAI | None, embedder: Embedder
) -> Generator:
    sampling = Sampling(settings.llm_temperature, settings.llm_max_tokens)
    if settings.generator == "openai":
        assert client is not None
        return OpenAIGenerator(client, settings.llm_model, sampling)
    if settings.generator == "llama":
        return LlamaGenerator(
            settings.llama_model, settings.llama_threads, settings.llama_context, sampling
        )
    return ExtractiveGenerator(embedder)
