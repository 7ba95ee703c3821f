"""What `GET /metrics` reports, in Prometheus's text format (prometheus-client).

One registry per app, so several apps in one process (tests) never collide. The metrics are
fed by the HTTP middleware (requests), by the answers hub (every answer event), by the
routes that answer whole (JSON answers), by ingestion (every settled document), by the
embedder and generator as the app state wraps them (runtime/observed_backends.py), and by
gauges read when scraped. With `ragsvc serve --workers N`, the workers' metrics are added
up in prometheus-client's multiprocess mode (runtime/shared_metrics.py): `shared` names
the directory they share.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from ragsvc.core.clock import now
from ragsvc.core.errors import AnswerAbandoned
from ragsvc.core.schemas import Document
from ragsvc.runtime.shared_metrics import ProcessMirror, forget_process, render_shared
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BACKEND_SECONDS = (*_SECONDS, 60, 120)
_INGEST_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
SHARE_EVERY_S = 1.0  # how often a worker of `serve --workers N` copies its gauges


class Metrics:
    def __init__(self, shared: str | None = None) -> None:
        self.shared = shared
        self.registry = registry = CollectorRegistry()
        self._read: list[tuple[Gauge, Callable[[], float]]] = []  # copied when shared
        self._process = ProcessMirror(registry) if shared else None
        if shared is None:
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
        self.streams = Gauge(
            "ragsvc_streams_open", "SSE streams open", multiprocess_mode="livesum",
            registry=registry,
        )  # fmt: skip
        self.problems = Counter(
            "ragsvc_problems", "Problems reported, as responses or error events", ["type"],
            registry=registry,
        )  # fmt: skip
        self._answer_metrics(registry)
        self._ingest_metrics(registry)
        self._backend_metrics(registry)

    def _answer_metrics(self, registry: CollectorRegistry) -> None:
        self.answers = Counter(
            "ragsvc_answers", "Answers ended: done, failed, or abandoned by their clients",
            ["outcome"], registry=registry,
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
        self.ingest_time = Histogram(
            "ragsvc_ingest_seconds",
            "Time from a document's upload to its final status (queued time included)",
            ["status"], buckets=_INGEST_SECONDS, registry=registry,
        )  # fmt: skip

    def _backend_metrics(self, registry: CollectorRegistry) -> None:
        self.backend_time = Histogram(
            "ragsvc_backend_seconds",
            "Time of a backend call: an embedding, a whole generation",
            ["backend"], buckets=_BACKEND_SECONDS, registry=registry,
        )  # fmt: skip
        self.generator_first_piece = Histogram(
            "ragsvc_generator_first_piece_seconds",
            "Time from a generation's start to the generator's first piece",
            buckets=_BACKEND_SECONDS, registry=registry,
        )  # fmt: skip
        self.backend_errors = Counter(
            "ragsvc_backend_errors", "Backend calls failed, by backend and kind of error",
            ["backend", "error"], registry=registry,
        )  # fmt: skip

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped (queue depths, work in progress); with shared metrics,
        copied by each worker and summed over them."""
        gauge = Gauge(name, documentation, multiprocess_mode="livesum", registry=self.registry)
        if self.shared is None:
            gauge.set_function(read)
        else:
            self._read.append((gauge, read))

    def build_info(self, *, version: str, python: str, embedder: str, generator: str) -> None:
        Gauge(
            "ragsvc_build_info", "Always 1: the version and backends of this process",
            ["version", "python", "embedder", "generator"], multiprocess_mode="livemax",
            registry=self.registry,
        ).labels(version, python, embedder, generator).set(1)  # fmt: skip

    def observe_answer(self, event: AnswerEvent) -> None:
        if isinstance(event, DoneEvent):
            self.answers.labels("done").inc()
            self.retrieval.observe(event.timings.retrieval_ms / 1000)
            if event.timings.first_token_ms is not None:
                self.first_token.observe(event.timings.first_token_ms / 1000)
        elif isinstance(event, FailedEvent):
            slug = event.problem.type.rpartition(":")[2]
            if slug == AnswerAbandoned.slug:  # its clients left (Stop): not a failure
                self.answers.labels("abandoned").inc()
            else:
                self.answers.labels("failed").inc()
                self.problem(slug)

    def observe_document(self, document: Document) -> None:
        """A document settled (ready, no_text or failed), how long after its upload."""
        self.documents.labels(document.status).inc()
        self.pages.inc(document.pages)
        took = (now() - document.created_at).total_seconds()
        self.ingest_time.labels(document.status).observe(max(0.0, took))

    def problem(self, problem_type: str) -> None:
        self.problems.labels(problem_type.rpartition(":")[2]).inc()

    def render(self) -> bytes:
        if self.shared is None:
            return generate_latest(self.registry)
        self.share()
        return render_shared(self.shared)

    def share(self) -> None:
        """Copy this process's gauges where the other workers read them (shared only)."""
        for gauge, read in self._read:
            gauge.set(read())
        if self._process is not None:
            self._process.copy()

    async def keep_shared(self, every_s: float = SHARE_EVERY_S) -> None:
        """With shared metrics, copy the gauges every `every_s` until cancelled (the app's
        end), then take them out of the sums; without, return at once."""
        if self.shared is None:
            return
        try:
            while True:
                self.share()
                await anyio.sleep(every_s)
        finally:
            forget_process(self.shared)
