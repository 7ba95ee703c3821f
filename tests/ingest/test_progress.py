"""Following a document's ingestion without HTTP: one that settled before anyone followed
it gets its final event alone, one being ingested here its events as they come, one being
ingested on another replica too (from the moment it settles), and one the session does not
have is refused before any event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from ragsvc.core.config import Settings
from ragsvc.core.errors import DocumentNotFound
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.progress import IngestProgress
from ragsvc.ingest.steps import IngestOptions, UploadedFile
from ragsvc.runtime.app_state import options
from ragsvc.storage.disk.store import DiskStore
from ragsvc.streams.events import ChunksEmbedded, DocumentSettled, IngestEvent, PageParsed
from ragsvc.streams.log_hub import Limits, LogHub
from ragsvc.streams.redis_copies import RedisLogCopies
from tests.support.fakes import HashEmbedder
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
TOKEN_HASH = "c" * 64
OWLS = UploadedFile("owls.pdf", make_pdf(["Barn owls hunt voles at night.", "Owls nest."]))


@pytest.fixture
async def progress(tmp_path: Path) -> AsyncIterator[IngestProgress]:
    store = DiskStore(tmp_path)
    await store.create_session(TOKEN_HASH, timedelta(hours=1))
    ingestion = Ingestion(store, HashEmbedder(), None, options(Settings(), IngestOptions))
    hub: LogHub[IngestEvent] = LogHub(60, None, Limits(8, 8))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(hub.run, tasks)
        yield IngestProgress(ingestion, hub)
        tasks.cancel_scope.cancel()


@pytest.fixture
async def replicas(
    progress: IngestProgress, redis_url: str
) -> AsyncIterator[tuple[IngestProgress, IngestProgress]]:
    """Two replicas over one store and one Redis: each its own hub, copying its logs."""
    redis = Redis.from_url(redis_url)
    hubs = [
        LogHub[IngestEvent](60, None, Limits(8, 8), copies=RedisLogCopies(redis, "ingest", 60))
        for _ in range(2)
    ]
    try:
        async with anyio.create_task_group() as tasks:
            for hub in hubs:
                tasks.start_soon(hub.run, tasks)
            yield (
                IngestProgress(progress.ingestion, hubs[0]),
                IngestProgress(progress.ingestion, hubs[1]),
            )
            tasks.cancel_scope.cancel()
    finally:
        await redis.aclose()


async def events_of(progress: IngestProgress, document_id: str) -> list[IngestEvent]:
    with anyio.fail_after(10):
        batches = await progress.follow(TOKEN_HASH, document_id, -1)
        return [event async for batch in batches for _, event in batch]


async def test_a_settled_document_gets_its_final_event_alone(progress: IngestProgress):
    [owls] = await progress.ingestion.ingest_files(TOKEN_HASH, [OWLS])
    assert await events_of(progress, owls.id) == [DocumentSettled(owls)]


async def test_a_document_ingested_here_gets_its_events_as_they_come(progress: IngestProgress):
    ingestion = progress.ingestion
    [queued], [job] = await ingestion.register_uploads(TOKEN_HASH, [OWLS])
    async with progress.ingests.reserve(TOKEN_HASH) as room:
        room.start(queued.id, ingestion.in_background(TOKEN_HASH, job))
    events = await events_of(progress, queued.id)
    assert any(isinstance(e, PageParsed) for e in events)
    assert any(isinstance(e, ChunksEmbedded) for e in events)
    last = events[-1]
    assert isinstance(last, DocumentSettled) and last.document.status == "ready"


async def test_a_document_ingested_on_another_replica_has_its_events_once_it_settled(
    replicas: tuple[IngestProgress, IngestProgress],
):
    """The store must never say `ready` before the log's copy holds the page events: a
    follower on the other replica would then get the final event alone."""
    working, other = replicas
    ingestion = working.ingestion
    [queued], [job] = await ingestion.register_uploads(TOKEN_HASH, [OWLS])
    async with working.ingests.reserve(TOKEN_HASH) as room:
        room.start(queued.id, ingestion.in_background(TOKEN_HASH, job))
    with anyio.fail_after(10):
        while (await ingestion.document(TOKEN_HASH, queued.id)).status == "processing":
            await anyio.sleep(0)
    events = await events_of(other, queued.id)
    assert isinstance(events[0], PageParsed)
    last = events[-1]
    assert isinstance(last, DocumentSettled) and last.document.status == "ready"


async def test_a_document_the_session_does_not_have_is_refused_at_once(progress: IngestProgress):
    with pytest.raises(DocumentNotFound, match="'elsewhere'"):
        await progress.follow(TOKEN_HASH, "elsewhere", -1)
