"""What /metrics reports, fed directly: answers by outcome (an abandoned one apart), problems
by type, documents by status with their pages and how long they took, gauges read when
scraped, the build; each app's registry of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragsvc.core.clock import now
from ragsvc.core.errors import AnswerAbandoned, problem, problem_of
from ragsvc.core.schemas import Document, Timings
from ragsvc.runtime.metrics import Metrics
from ragsvc.streams.events import DoneEvent, FailedEvent, SourcesEvent


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def labelled(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def test_answers_are_counted_by_outcome_and_problems_by_type():
    metrics = Metrics()
    done = DoneEvent(
        "Owls hunt [1].", [1], Timings(retrieval_ms=20, first_token_ms=50, total_ms=90)
    )
    metrics.observe_answer(SourcesEvent([]))  # not an end: not counted
    metrics.observe_answer(done)
    metrics.observe_answer(done)
    metrics.observe_answer(FailedEvent(problem(503, "the LLM went away")))
    got = samples(metrics)
    assert got[("ragsvc_answers_total", labelled(outcome="done"))] == 2
    assert got[("ragsvc_answers_total", labelled(outcome="failed"))] == 1
    assert got[("ragsvc_retrieval_seconds_count", frozenset())] == 2
    assert got[("ragsvc_retrieval_seconds_sum", frozenset())] == pytest.approx(0.04)
    assert got[("ragsvc_first_token_seconds_count", frozenset())] == 2
    [failure] = [labels for name, labels in got if name == "ragsvc_problems_total"]
    assert dict(failure)["type"] == problem(503, "x").type.rpartition(":")[2]


def test_an_answer_its_clients_abandoned_is_its_own_outcome_not_a_failure():
    metrics = Metrics()
    metrics.observe_answer(FailedEvent(problem_of(AnswerAbandoned())))  # Stop pressed
    metrics.observe_answer(FailedEvent(problem(503, "the LLM went away")))
    got = samples(metrics)
    assert got[("ragsvc_answers_total", labelled(outcome="abandoned"))] == 1
    assert got[("ragsvc_answers_total", labelled(outcome="failed"))] == 1
    problems = {dict(labels)["type"] for name, labels in got if name == "ragsvc_problems_total"}
    assert "answer-abandoned" not in problems


def document(status: str, pages: int, age_s: float = 0.0) -> Document:
    return Document(
        id=status,
        filename="x.pdf",
        sha256="0" * 64,
        pages=pages,
        chunks=1,
        status=status,  # type: ignore[arg-type]
        created_at=now() - timedelta(seconds=age_s),
    )


def test_a_settled_document_is_timed_from_its_upload_by_final_status():
    metrics = Metrics()
    metrics.observe_document(document("ready", 3, age_s=2.0))
    metrics.observe_document(document("failed", 0, age_s=40.0))
    metrics.observe_document(document("ready", 1, age_s=-5.0))  # another host's clock: ahead
    got = samples(metrics)
    assert got[("ragsvc_ingest_seconds_count", labelled(status="ready"))] == 2
    assert got[("ragsvc_ingest_seconds_sum", labelled(status="ready"))] == pytest.approx(2, 0.1)
    assert got[("ragsvc_ingest_seconds_bucket", labelled(status="ready", le="2.5"))] == 2
    assert got[("ragsvc_ingest_seconds_bucket", labelled(status="failed", le="30.0"))] == 0
    assert got[("ragsvc_ingest_seconds_bucket", labelled(status="failed", le="60.0"))] == 1


def test_the_build_is_a_gauge_of_one_labelled_with_versions_and_backends():
    metrics = Metrics()
    metrics.build_info(version="1.2.3", python="3.11.9", embedder="hash:128", generator="echo")
    build = labelled(version="1.2.3", python="3.11.9", embedder="hash:128", generator="echo")
    assert samples(metrics)[("ragsvc_build_info", build)] == 1


def test_documents_are_counted_by_status_with_their_pages():
    metrics = Metrics()
    for status, pages in [("ready", 3), ("ready", 2), ("no_text", 4)]:
        metrics.observe_document(
            Document(
                id=status,
                filename="x.pdf",
                sha256="0" * 64,
                pages=pages,
                chunks=1,
                status=status,  # type: ignore[arg-type]
                created_at=now(),
            )
        )
    got = samples(metrics)
    assert got[("ragsvc_documents_ingested_total", labelled(status="ready"))] == 2
    assert got[("ragsvc_documents_ingested_total", labelled(status="no_text"))] == 1
    assert got[("ragsvc_pages_ingested_total", frozenset())] == 9


def test_a_gauge_is_read_when_scraped_and_apps_never_share_counts():
    metrics, other = Metrics(), Metrics()
    depth = [3]
    metrics.gauge("ragsvc_things_waiting", "Things waiting", lambda: depth[0])
    assert samples(metrics)[("ragsvc_things_waiting", frozenset())] == 3
    depth[0] = 5
    assert samples(metrics)[("ragsvc_things_waiting", frozenset())] == 5
    metrics.observe_answer(DoneEvent("a", [], Timings(retrieval_ms=1, total_ms=2)))
    assert b"ragsvc_answers_total" in metrics.render()
    assert ("ragsvc_answers_total", labelled(outcome="done")) not in samples(other)
    assert ("ragsvc_things_waiting", frozenset()) not in samples(other)
