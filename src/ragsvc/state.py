"""The application's state: the use cases wired to their backends, the rate limiter and the
event-log hubs, built once per app. Settings become each use case's options here and only
here, so the use cases never see the whole Settings."""

from __future__ import annotations

from dataclasses import dataclass

from ragsvc.answering import Answering, AnswerOptions
from ragsvc.backends import Backends
from ragsvc.config import Settings
from ragsvc.eventlog import LogHub
from ragsvc.events import AnswerEvent, IngestEvent
from ragsvc.ingestion import Ingestion, IngestOptions
from ragsvc.ratelimit import RateLimiter


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

    @classmethod
    def build(cls, settings: Settings, backends: Backends) -> AppState:
        return cls(
            settings=settings,
            backends=backends,
            ingestion=Ingestion(
                backends.store, backends.embedder, backends.pdf_workers, ingest_options(settings)
            ),
            answering=Answering(
                backends.store, backends.embedder, backends.generator, answer_options(settings)
            ),
            limiter=RateLimiter(),
            answers=LogHub(settings.resume_window_s, settings.resume_grace_s),
            # An ingest runs to its end even when nobody watches: grace None, never cancelled.
            ingests=LogHub(settings.resume_window_s, None),
        )


def ingest_options(settings: Settings) -> IngestOptions:
    return IngestOptions(
        max_pages=settings.max_pages,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        document_cards=settings.document_cards,
    )


def answer_options(settings: Settings) -> AnswerOptions:
    return AnswerOptions(
        max_question_chars=settings.max_question_chars,
        history_turns=settings.history_turns,
        top_k=settings.top_k,
        retrieval=settings.retrieval,
        mmr_lambda=settings.mmr_lambda,
    )
