"""The application's state, built once per process: each use case's options are the
settings of the same names, the use cases share the backends (as the metrics observe them)
and hubs they are given, and /metrics reads the page workers and the PostgreSQL pool."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ragsvc.answer.answering import AnswerOptions
from ragsvc.core.config import Settings
from ragsvc.ingest.steps import IngestOptions
from ragsvc.pdf.page_workers import PdfWorkers, WorkerLimits
from ragsvc.runtime.app_state import AppState, options
from ragsvc.runtime.observed_backends import CountedExtractor, TimedEmbedder, TimedGenerator
from ragsvc.sessions.lifecycle import SessionOptions
from tests.support.fakes import fake_backends

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("kind", [IngestOptions, AnswerOptions, SessionOptions])
def test_options_are_the_settings_of_their_field_names(kind: type):
    settings = Settings(
        chunk_size=900, document_cards=False, top_k=7, history_turns=2, session_ttl=60
    )
    made = options(settings, kind)
    assert isinstance(made, kind)
    assert {f.name: getattr(made, f.name) for f in fields(kind)} == {
        f.name: getattr(settings, f.name) for f in fields(kind)
    }


def test_options_follow_changed_settings():
    settings = Settings(chunk_size=900, chunk_overlap=100, document_cards=False)
    made = options(settings, IngestOptions)
    assert (made.chunk_size, made.chunk_overlap, made.document_cards) == (900, 100, False)


async def test_the_use_cases_share_the_backends_and_hubs_they_are_given(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, top_k=3, max_ingests=5)
    backends = fake_backends(settings)
    state = AppState.build(settings, backends)
    try:
        assert state.ingestion.store is backends.store is state.answering.store
        assert state.ingestion.embedder is state.answering.embedder
        assert isinstance(state.answering.embedder, TimedEmbedder)
        assert state.answering.embedder.inner is backends.embedder
        assert isinstance(state.answering.generator, TimedGenerator)
        assert state.answering.generator.inner is backends.generator
        assert state.uploads.ingestion is state.ingestion is state.progress.ingestion
        assert state.uploads.ingests is state.ingests is state.progress.ingests
        assert state.answering.answers is state.answers
        assert state.answering.options.top_k == 3
        assert state.redis is None and state.queue is None and state.uploads.queue is None
        assert b"ragsvc_session_cache_bytes" in state.metrics.render()
    finally:
        await state.aclose()
        await backends.aclose()


def gauges(state: AppState) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(state.metrics.render().decode())
        for sample in family.samples
        if not sample.labels
    }


async def test_metrics_read_the_page_workers_and_the_postgres_pool(
    tmp_path: Path, database_url: str
):
    settings = Settings(data_dir=tmp_path, store="postgres", database_url=database_url)
    backends = fake_backends(settings)
    backends.pdf_workers = PdfWorkers(2, WorkerLimits(settings.parse_timeout_s, 512))
    state = AppState.build(settings, backends)
    try:
        got = gauges(state)
        assert isinstance(state.ingestion.pdf_workers, CountedExtractor)
        assert state.ingestion.pdf_workers.inner is backends.pdf_workers
        assert got["ragsvc_pdf_workers"] == 2
        assert got["ragsvc_pdf_extractions_in_progress"] == 0
        assert got["ragsvc_db_pool_max"] == 16
        assert 1 <= got["ragsvc_db_pool_connections"] <= 16
        assert 0 <= got["ragsvc_db_pool_idle"] <= got["ragsvc_db_pool_connections"]
        assert got["ragsvc_db_pool_waiting"] == 0
    finally:
        await state.aclose()
        await backends.aclose()


async def test_without_page_workers_or_postgres_their_gauges_say_so(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    backends = fake_backends(settings)
    state = AppState.build(settings, backends)
    try:
        got = gauges(state)
        assert got["ragsvc_pdf_workers"] == 0
        assert not {name for name in got if name.startswith("ragsvc_db_pool")}
        assert "ragsvc_pdf_extractions_in_progress" not in got
    finally:
        await state.aclose()
        await backends.aclose()
