"""What `GET /metrics` reports, in Prometheus's text format (prometheus-client).

One registry per app, so several apps in one process (tests) never collide. Counts are per
process: with `ragsvc serve --workers N`, each worker reports its own. The metrics are fed
by the HTTP middleware (requests), by the answers hub (every answer event), by the routes
that answer whole (JSON answers), and by ingestion (every new document).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from ragsvc.core.schemas import Document
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # memory, CPU, open files of this process
        self.requests = Counter(
            "ragsvc_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=registry,
        )  # fmt: skip
        self.response_start = Histogram(
            "ragsvc_http_response_start_seconds",
            "Time from a request to the start of its response (for a stream, its headers)",
            ["method", "route"], buckets=_SECONDS, registry=registry,
        )  # fmt: skip
        self.streams = Gauge("ragsvc_streams_open", "SSE streams open", registry=registry)
        self.problems = Counter(
            "ragsvc_problems", "Problems reported, as responses or error events", ["type"],
            registry=registry,
        )  # fmt: skip
        self._answer_metrics(registry)
        self._ingest_metrics(registry)

    def _answer_metrics(self, registry: CollectorRegistry) -> None:
        self.answers = Counter(
            "ragsvc_answers", "Answers ended", ["outcome"], registry=registry
        )  # fmt: skip
        self.retrieval = Histogram(
            "ragsvc_retrieval_seconds", "Retrieval time of an answer",
            buckets=_SECONDS, registry=registry,
        )  # fmt: skip
        self.first_token = Histogram(
            "ragsvc_first_token_seconds", "Time to an answer's first token (server side)",
            buckets=_SECONDS, registry=registry,
        )  # fmt: skip

    def _ingest_metrics(self, registry: CollectorRegistry) -> None:
        self.documents = Counter(
            "ragsvc_documents_ingested", "Documents ingested, by final status", ["status"],
            registry=registry,
        )  # fmt: skip
        self.pages = Counter(
            "ragsvc_pages_ingested", "Pages of documents ingested (rate: pages/s)",
            registry=registry,
        )  # fmt: skip

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped (queue depths, work in progress)."""
        Gauge(name, documentation, registry=self.registry).set_function(read)

    def observe_answer(self, event: AnswerEvent) -> None:
        if isinstance(event, DoneEvent):
            self.answers.labels("done").inc()
            self.retrieval.observe(event.timings.retrieval_ms / 1000)
            if event.timings.first_token_ms is not None:
                self.first_token.observe(event.timings.first_token_ms / 1000)
        elif isinstance(event, FailedEvent):
            self.answers.labels("failed").inc()
            self.problem(event.problem.type)

    def observe_document(self, document: Document) -> None:
        """A document ingested (ready, no_text or failed)."""
        self.documents.labels(document.status).inc()
        self.pages.inc(document.pages)

    def problem(self, problem_type: str) -> None:
        self.problems.labels(problem_type.rpartition(":")[2]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
