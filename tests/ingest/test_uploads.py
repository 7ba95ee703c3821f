"""The upload use case on a real disk store, without HTTP: an upload without a session makes
one, which is deleted again when the upload is refused; an upload into a session keeps it;
a background upload registers its documents `processing` and ingests them in the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from ragsvc.core.config import Settings
from ragsvc.core.errors import NotAPdf
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.steps import IngestOptions, UploadedFile
from ragsvc.ingest.uploads import Uploads
from ragsvc.runtime.app_state import options
from ragsvc.sessions.lifecycle import SessionOptions, Sessions
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.storage.disk.store import DiskStore
from ragsvc.streams.events import IngestEvent
from ragsvc.streams.log_hub import Limits, LogHub
from tests.support.fakes import HashEmbedder
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
TTL = timedelta(hours=1)
OWLS = UploadedFile("owls.pdf", make_pdf(["Barn owls hunt voles at night."]))
NOTES = UploadedFile("notes.pdf", b"these are my notes, not a PDF")


@pytest.fixture
async def uploads(tmp_path: Path) -> AsyncIterator[Uploads]:
    """The use case, its hub of background ingests running, no queue."""
    store = DiskStore(tmp_path)
    ingestion = Ingestion(store, HashEmbedder(), None, options(Settings(), IngestOptions))
    sessions = Sessions(store, RateLimiter(), options(Settings(), SessionOptions))
    hub: LogHub[IngestEvent] = LogHub(60, None, Limits(8, 8))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(hub.run, tasks)
        yield Uploads(ingestion, sessions, hub, None, queue_wait_s=60)
        tasks.cancel_scope.cancel()


def store_of(uploads: Uploads) -> DiskStore:
    store = uploads.ingestion.store
    assert isinstance(store, DiskStore)
    return store


async def test_an_upload_without_a_session_makes_one(uploads: Uploads):
    uploaded = await uploads.upload([OWLS], None, "10.0.0.1", wait=True)
    assert uploaded.created is not None and uploaded.created.token
    token_hash = uploaded.created.meta.token_hash
    assert await store_of(uploads).get_session(token_hash, TTL) is not None
    [owls] = uploaded.documents
    assert owls.status == "ready"
    assert list((await store_of(uploads).load_state(token_hash)).documents) == [owls.id]


async def test_a_refused_upload_leaves_no_session_behind(uploads: Uploads):
    with pytest.raises(NotAPdf, match="not a PDF|PDF header"):
        await uploads.upload([OWLS, NOTES], None, "10.0.0.1", wait=True)
    assert list(store_of(uploads).root.iterdir()) == []  # the session made for it is gone


async def test_a_refused_upload_into_a_session_keeps_the_session(uploads: Uploads):
    created = await uploads.sessions.create("10.0.0.1")
    token_hash = created.meta.token_hash
    with pytest.raises(NotAPdf):
        await uploads.upload([NOTES], token_hash, "10.0.0.1", wait=True)
    assert await store_of(uploads).get_session(token_hash, TTL) is not None


async def test_a_background_upload_is_refused_before_anything_is_recorded(uploads: Uploads):
    with pytest.raises(NotAPdf, match="^notes.pdf: "):
        await uploads.upload([OWLS, NOTES], None, "10.0.0.1", wait=False)
    assert list(store_of(uploads).root.iterdir()) == []


async def test_a_background_upload_answers_processing_then_ingests_in_the_hub(uploads: Uploads):
    uploaded = await uploads.upload([OWLS], None, "10.0.0.1", wait=False)
    assert uploaded.created is not None
    token_hash = uploaded.created.meta.token_hash
    [queued] = uploaded.documents
    assert queued.status == "processing"
    entry = uploads.ingests.find(queued.id, token_hash)
    assert entry is not None
    with anyio.fail_after(10):
        batches = [batch async for batch in uploads.ingests.follow(entry, -1)]
    settled = batches[-1][-1][1]
    assert settled.document.id == queued.id and settled.document.status == "ready"
