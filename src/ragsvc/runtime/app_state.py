"""The application's state: the use cases wired to their backends, the rate limiter and the
event-log hubs, built once per process. Settings become each use case's options here and
only here, so the use cases never see the whole Settings."""

from __future__ import annotations

import platform
from dataclasses import dataclass, fields
from functools import partial
from typing import TypeVar

from redis.asyncio import Redis

from ragsvc import __version__
from ragsvc.answer.answering import Answering, AnswerOptions
from ragsvc.core.config import Settings
from ragsvc.ingest.fair_slots import FairSlots
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.job_queue import IngestQueue
from ragsvc.ingest.page_images import PageImages
from ragsvc.ingest.progress import IngestProgress
from ragsvc.ingest.steps import IngestOptions
from ragsvc.ingest.uploads import Uploads
from ragsvc.runtime.backends import Backends, make_ingest_queue, shared_redis
from ragsvc.runtime.draining import Drain
from ragsvc.runtime.metrics import Metrics
from ragsvc.runtime.observed_backends import (
    CountedExtractor,
    TimedEmbedder,
    TimedGenerator,
    backend_name,
)
from ragsvc.runtime.shared_metrics import shared_dir
from ragsvc.sessions.lifecycle import SessionOptions, Sessions
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.storage.postgres.store import PostgresStore
from ragsvc.streams.events import AnswerEvent, IngestEvent
from ragsvc.streams.log_hub import Limits, LogHub
from ragsvc.streams.redis_copies import RedisLogCopies

Options = TypeVar("Options", IngestOptions, AnswerOptions, SessionOptions)


@dataclass
class AppState:
    """What the routes work with; `deps.StateDep` hands it to them."""

    settings: Settings
    backends: Backends
    sessions: Sessions
    ingestion: Ingestion
    uploads: Uploads
    progress: IngestProgress
    pages: PageImages  # cited pages as images
    answering: Answering
    answers: LogHub[AnswerEvent]  # answers being streamed, resumable with Last-Event-ID
    ingests: LogHub[IngestEvent]  # documents being ingested in the background
    metrics: Metrics
    drain: Drain  # SIGTERM: no new work, work in flight given RAGSVC_DRAIN_S
    redis: Redis | None = None  # shared by replicas (RAGSVC_REDIS_URL); owned here
    queue: IngestQueue | None = None  # RAGSVC_INGEST_QUEUE=redis; owned here

    async def aclose(self) -> None:
        if self.queue is not None:
            await self.queue.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    @classmethod
    def build(cls, settings: Settings, backends: Backends) -> AppState:
        metrics = Metrics(shared_dir())  # added up over `serve --workers N`'s processes
        redis = shared_redis(settings.redis_url) if settings.redis_url else None
        answers, ingests = _hubs(settings, metrics, redis)
        limiter, queue = RateLimiter(redis), make_ingest_queue(settings)
        sessions = Sessions(backends.store, limiter, options(settings, SessionOptions))
        embedder = TimedEmbedder(backends.embedder, metrics)  # every call timed and counted
        ingestion = _ingestion(settings, backends, embedder, metrics)
        state = cls(
            settings=settings,
            backends=backends,
            sessions=sessions,
            ingestion=ingestion,
            uploads=Uploads(ingestion, sessions, ingests, queue, settings.queue_wait_s),
            progress=IngestProgress(ingestion, ingests),
            pages=PageImages(backends.store),
            answering=Answering(
                backends.store,
                embedder,
                TimedGenerator(backends.generator, metrics),
                options(settings, AnswerOptions),
                answers,
                limiter,
                metrics.observe_answer,
            ),
            answers=answers,
            ingests=ingests,
            metrics=metrics,
            drain=Drain(settings.drain_s),
            redis=redis,
            queue=queue,
        )
        state._observed()
        return state

    def _observed(self) -> None:
        """What /metrics reads of this state besides its events: gauges, the build."""
        self._gauges()
        self._pool_gauges()
        self.metrics.build_info(
            version=__version__,
            python=platform.python_version(),
            embedder=self.backends.embedder.name,
            generator=backend_name(self.backends.generator),
        )

    def _gauges(self) -> None:
        metrics, waiting = self.metrics, self.ingestion.running
        metrics.gauge(
            "ragsvc_answers_in_progress", "Answers being generated", lambda: self.answers.running
        )
        metrics.gauge(
            "ragsvc_ingests_in_progress",
            "Background ingests, queued or running",
            lambda: self.ingests.running,
        )
        metrics.gauge(
            "ragsvc_ingests_waiting",
            "Background ingests queued for a worker",
            lambda: waiting.waiting,
        )
        metrics.gauge(
            "ragsvc_session_cache_bytes",
            "Memory held by loaded sessions",
            lambda: self.backends.store.cache_bytes,
        )

    def _pool_gauges(self) -> None:
        """The PDF page workers and, on PostgreSQL, the connection pool, read when scraped."""
        metrics, workers = self.metrics, self.backends.pdf_workers
        size = workers.workers if workers is not None else 0
        metrics.gauge("ragsvc_pdf_workers", "PDF page worker processes", lambda: size)
        extractor = self.ingestion.pdf_workers
        if isinstance(extractor, CountedExtractor):
            metrics.gauge(
                "ragsvc_pdf_extractions_in_progress",
                "PDFs whose pages the page workers are extracting",
                lambda: extractor.running,
            )
        store = self.backends.store
        if isinstance(store, PostgresStore):
            for key, name, documentation in _POOL_STATS:
                metrics.gauge(name, documentation, partial(_pool_stat, store, key))


def _hubs(
    settings: Settings, metrics: Metrics, redis: Redis | None
) -> tuple[LogHub[AnswerEvent], LogHub[IngestEvent]]:
    """The hub of answers (cancelled once nobody reads them) and that of background ingests
    (which run to their end even when nobody watches), copied to Redis when it is shared."""
    window = settings.resume_window_s
    answers: LogHub[AnswerEvent] = LogHub(
        window,
        settings.resume_grace_s,
        Limits(settings.max_answers, settings.max_answers_per_session),
        metrics.observe_answer,
        RedisLogCopies(redis, "answer", window) if redis else None,
    )
    ingests: LogHub[IngestEvent] = LogHub(
        window,
        None,
        Limits(settings.max_ingests, settings.max_ingests_per_session),
        copies=RedisLogCopies(redis, "ingest", window) if redis else None,
    )
    return answers, ingests


_POOL_STATS = [  # psycopg_pool's get_stats() key, the gauge, what it is
    ("pool_max", "ragsvc_db_pool_max", "PostgreSQL connections the pool may open"),
    ("pool_size", "ragsvc_db_pool_connections", "PostgreSQL connections open"),
    ("pool_available", "ragsvc_db_pool_idle", "PostgreSQL connections open and idle"),
    ("requests_waiting", "ragsvc_db_pool_waiting", "Requests waiting for a connection"),
]


def _pool_stat(store: PostgresStore, key: str) -> float:
    return store.pool.get_stats().get(key, 0)


def _ingestion(
    settings: Settings, backends: Backends, embedder: TimedEmbedder, metrics: Metrics
) -> Ingestion:
    ingests_at_once = max(1, settings.parse_workers)  # the rest wait, spooled to disk
    workers = backends.pdf_workers
    return Ingestion(
        backends.store,
        embedder,
        CountedExtractor(workers) if workers is not None else None,
        options(settings, IngestOptions),
        FairSlots(ingests_at_once),
        metrics.observe_document,
    )


def options(settings: Settings, kind: type[Options]) -> Options:
    """A use case's options: the settings of the same names as its fields."""
    return kind(**{f.name: getattr(settings, f.name) for f in fields(kind)})
