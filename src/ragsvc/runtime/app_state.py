"""The application's state: the use cases wired to their backends, the rate limiter and the
event-log hubs, built once per app. Settings become each use case's options here and only
here, so the use cases never see the whole Settings."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

from anyio import CapacityLimiter
from redis.asyncio import BlockingConnectionPool, Redis

from ragsvc.answer.answering import Answering, AnswerOptions
from ragsvc.core.config import Settings
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.job_queue import IngestQueue
from ragsvc.ingest.steps import IngestOptions
from ragsvc.runtime.backends import Backends
from ragsvc.runtime.metrics import Metrics
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.streams.events import AnswerEvent, IngestEvent
from ragsvc.streams.log_hub import Limits, LogHub
from ragsvc.streams.redis_copies import RedisLogCopies

Options = TypeVar("Options", IngestOptions, AnswerOptions)
REDIS_CONNECTIONS = 64  # per process; a replica's readers of other replicas' logs hold one each
REDIS_WAIT_S = 5.0


@dataclass
class AppState:
    """What the routes work with; `deps.StateDep` hands it to them."""

    settings: Settings
    backends: Backends
    ingestion: Ingestion
    answering: Answering
    limiter: RateLimiter
    answers: LogHub[AnswerEvent]  # answers being streamed, resumable with Last-Event-ID
    ingests: LogHub[IngestEvent]  # documents being ingested in the background
    metrics: Metrics
    redis: Redis | None = None  # shared by replicas (RAGSVC_REDIS_URL); owned here
    queue: IngestQueue | None = None  # RAGSVC_INGEST_QUEUE=redis; owned here

    async def aclose(self) -> None:
        if self.queue is not None:
            await self.queue.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    @classmethod
    def build(cls, settings: Settings, backends: Backends) -> AppState:
        store, embedder, metrics = backends.store, backends.embedder, Metrics()
        redis_url = settings.redis_url
        redis = shared_redis(redis_url) if redis_url else None
        ingest, answer = options(settings, IngestOptions), options(settings, AnswerOptions)
        ingests_at_once = max(1, settings.parse_workers)  # the rest wait, spooled to disk
        state = cls(
            settings=settings,
            backends=backends,
            ingestion=Ingestion(
                store,
                embedder,
                backends.pdf_workers,
                ingest,
                CapacityLimiter(ingests_at_once),
                metrics.observe_document,
            ),
            answering=Answering(store, embedder, backends.generator, answer),
            limiter=RateLimiter(redis),
            answers=LogHub(
                settings.resume_window_s,
                settings.resume_grace_s,
                Limits(settings.max_answers, settings.max_answers_per_session),
                metrics.observe_answer,
                RedisLogCopies(redis, "answer", settings.resume_window_s) if redis else None,
            ),
            # An ingest runs to its end even when nobody watches: grace None, never cancelled.
            ingests=LogHub(
                settings.resume_window_s,
                None,
                Limits(settings.max_ingests, settings.max_ingests_per_session),
                copies=RedisLogCopies(redis, "ingest", settings.resume_window_s) if redis else None,
            ),
            metrics=metrics,
            redis=redis,
            queue=ingest_queue(settings),
        )
        state._gauges()
        return state

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
            lambda: waiting.statistics().tasks_waiting,
        )
        metrics.gauge(
            "ragsvc_session_cache_bytes",
            "Memory held by loaded sessions",
            lambda: self.backends.store.cache_bytes,
        )


def ingest_queue(settings: Settings) -> IngestQueue | None:
    """The queue of background ingests, when workers take them (RAGSVC_INGEST_QUEUE)."""
    if settings.ingest_queue != "redis" or settings.redis_url is None:
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


def options(settings: Settings, kind: type[Options]) -> Options:
    """A use case's options: the settings of the same names as its fields."""
    return kind(**{f.name: getattr(settings, f.name) for f in fields(kind)})
