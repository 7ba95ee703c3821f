"""A document committed as it goes: while a background ingest reads a long PDF, or embeds
many chunks, the part done so far is put in the index in place of what the document had
there (every PART_EVERY_S at most), the document still `processing`, so a question asked
meanwhile is answered from the pages indexed so far; and its progress events go out."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ragsvc.core.schemas import Document
from ragsvc.ingest.steps import (
    IngestOptions,
    Prepared,
    RememberingEmbedder,
    commit,
    embed,
    listening,
    part_of,
)
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.pdf.read import Listeners
from ragsvc.storage.protocols import StateStore
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import ChunksEmbedded, IngestEvent, PageParsed


@dataclass(frozen=True)
class PartCommits:
    """One background ingest as it goes: its progress events, and the commits of the part
    of its document read, or embedded, so far (the document still `processing`)."""

    store: StateStore
    options: IngestOptions
    token_hash: str
    document: Document
    events: EventLog[IngestEvent]
    embedder: RememberingEmbedder  # what a part embedded is not embedded again

    @property
    def listeners(self) -> Listeners:
        """What parsing tells, from its worker thread."""
        return listening(self._page_parsed, self._pages_read)

    def _page_parsed(self, page: int, pages: int) -> None:
        anyio.from_thread.run_sync(self.events.append, PageParsed(page, pages))

    def _pages_read(self, parsed: ParsedDocument) -> None:
        part = part_of(parsed, self.document, self.options)  # chunked here
        if part.drafts:
            anyio.from_thread.run(self._embed_and_commit, part)

    async def _embed_and_commit(self, part: Prepared) -> None:
        await embed(self.embedder, part)
        await self.commit(part)

    def embedded(self, done: int, total: int) -> None:
        self.events.append(ChunksEmbedded(done, total))

    async def commit(self, part: Prepared) -> None:
        """Put the part in the index in place of what the document had there."""
        name, options = self.embedder.name, self.options
        await self.store.update(
            self.token_hash, lambda s: commit(s, [part], name, options, replace=True)
        )
