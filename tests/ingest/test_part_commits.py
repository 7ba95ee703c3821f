"""A document committed as it goes, on a real disk store and without HTTP: the pages read so
far of a long PDF are committed as a `processing` part (with an event per page), the whole
document then takes their place, what a part embedded is not embedded again, and a part of
a document deleted meanwhile is dropped."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from ragsvc.core.config import Settings
from ragsvc.ingest import steps
from ragsvc.ingest.part_commits import PartCommits
from ragsvc.ingest.steps import (
    IngestOptions,
    RememberingEmbedder,
    UploadedFile,
    commit,
    embed,
    new_document,
    prepare,
)
from ragsvc.pdf.read import FIRST_WINDOW
from ragsvc.runtime.app_state import options
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionState
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import ChunksEmbedded, IngestEvent, PageParsed
from tests.support.fakes import CountingEmbedder
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
TOKEN_HASH = "c" * 64
OPTIONS = options(Settings(), IngestOptions)
PAGES = [f"Page {n} tells of bird number {n}, which nests in tree {n}." for n in range(12)]
LONG = UploadedFile("birds.pdf", make_pdf(PAGES))


@pytest.fixture
async def store(tmp_path: Path) -> DiskStore:
    store = DiskStore(tmp_path)
    await store.create_session(TOKEN_HASH, timedelta(hours=1))
    return store


async def registered(store: DiskStore, embedder: CountingEmbedder | None = None) -> PartCommits:
    """A `processing` document of LONG in the session, and its commits as it goes."""
    document = new_document(LONG)

    def add(state: SessionState) -> None:
        state.documents[document.id] = document

    await store.update(TOKEN_HASH, add)
    events: EventLog[IngestEvent] = EventLog(document.id, TOKEN_HASH)
    return PartCommits(
        store,
        OPTIONS,
        TOKEN_HASH,
        document,
        events,
        RememberingEmbedder(embedder or CountingEmbedder()),
    )


async def test_the_pages_read_so_far_are_committed_then_the_whole_takes_their_place(
    store: DiskStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(steps, "PART_EVERY_S", 0.0)
    commits = await registered(store)
    doc_id = commits.document.id
    item = await anyio.to_thread.run_sync(
        prepare, LONG, commits.document, OPTIONS, commits.listeners, None
    )
    assert commits.events.events[: len(PAGES)] == [
        PageParsed(n, len(PAGES)) for n in range(1, len(PAGES) + 1)
    ]
    part = await store.load_state(TOKEN_HASH)
    assert part.documents[doc_id].status == "processing"
    assert part.index is not None
    pages = {chunk.page for chunk in part.index.chunks.values()}
    assert pages and max(pages) <= FIRST_WINDOW  # the first window of pages, no more
    await embed(commits.embedder, item, commits.embedded, commits.commit)
    assert commits.events.events[-1] == ChunksEmbedded(len(item.drafts), len(item.drafts))
    await store.update(TOKEN_HASH, lambda s: commit(s, [item], "hash:128", OPTIONS, replace=True))
    whole = await store.load_state(TOKEN_HASH)
    assert whole.documents[doc_id].status == "ready" and whole.index is not None
    assert sorted(c.text for c in whole.index.chunks.values()) == sorted(
        d.text for d in item.drafts
    )


async def test_what_a_part_embedded_is_not_embedded_again(
    store: DiskStore, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(steps, "PART_EVERY_S", 0.0)
    counting = CountingEmbedder()
    commits = await registered(store, counting)
    item = await anyio.to_thread.run_sync(
        prepare, LONG, commits.document, OPTIONS, commits.listeners, None
    )
    in_the_part = list(counting.asked)
    assert in_the_part  # a part was embedded while the PDF was read
    await embed(commits.embedder, item)
    assert len(counting.asked) == len(set(counting.asked))  # no text embedded twice
    assert set(counting.asked) >= {d.search_text for d in item.drafts}


async def test_a_part_of_a_document_deleted_meanwhile_is_dropped(store: DiskStore):
    commits = await registered(store)
    item = prepare(LONG, commits.document, OPTIONS)
    await embed(commits.embedder, item)

    def delete(state: SessionState) -> None:
        del state.documents[commits.document.id]

    await store.update(TOKEN_HASH, delete)
    await commits.commit(item)
    state = await store.load_state(TOKEN_HASH)
    assert state.documents == {} and state.index is None
