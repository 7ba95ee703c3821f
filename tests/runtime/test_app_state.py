"""The application's state, built once per process: each use case's options are the
settings of the same names, and the use cases share the backends and hubs they are given."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ragsvc.answer.answering import AnswerOptions
from ragsvc.core.config import Settings
from ragsvc.ingest.steps import IngestOptions
from ragsvc.runtime.app_state import AppState, options
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
        assert state.uploads.ingestion is state.ingestion is state.progress.ingestion
        assert state.uploads.ingests is state.ingests is state.progress.ingests
        assert state.answering.answers is state.answers
        assert state.answering.options.top_k == 3
        assert state.redis is None and state.queue is None and state.uploads.queue is None
        assert b"ragsvc_session_cache_bytes" in state.metrics.render()
    finally:
        await state.aclose()
        await backends.aclose()
