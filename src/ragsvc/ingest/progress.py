"""Use case: following a document's ingestion as events (pages parsed, chunks embedded, then
the document as it settled), wherever it runs: in this process, on another replica or on a
worker (through the copies of its event log in Redis). A document queued for a worker has
no log until the worker starts it; one that settled long ago gets its final event alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from ragsvc.core.errors import DocumentNotFound
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.streams.event_log import EventLog, Located
from ragsvc.streams.events import DocumentSettled, IngestEvent
from ragsvc.streams.log_hub import LogHub

QUEUE_POLL_S = 0.25  # how often a stream of a queued document looks for its worker
Batches = AsyncIterator[list[tuple[int, IngestEvent]]]


@dataclass(frozen=True)
class IngestProgress:
    ingestion: Ingestion
    ingests: LogHub[IngestEvent]

    async def follow(self, token_hash: str, document_id: str, after: int) -> Batches:
        """The document's events after sequence number `after`; 404 (raised here, before
        any event) when the session has no such document."""
        found = await self._log_of(token_hash, document_id)
        return self._follow(token_hash, document_id, found, after)

    async def _follow(
        self, token_hash: str, document_id: str, found: Located[IngestEvent] | None, after: int
    ) -> Batches:
        """While the document waits in the queue for a worker (no log anywhere yet, still
        `processing`), the stream stays open (heartbeats) until a worker starts it."""
        while found is None:
            await anyio.sleep(QUEUE_POLL_S)
            found = await self._log_of(token_hash, document_id)
        async for batch in self.ingests.follow_located(found, after):
            yield batch

    async def _log_of(self, token_hash: str, document_id: str) -> Located[IngestEvent] | None:
        """The log of the document's ingest on any replica or worker; else a finished log of
        its final event; None while it is queued. 404 once the document is deleted, even
        while its log is still kept."""
        documents = await self.ingestion.documents(token_hash)
        if document_id not in documents:
            raise DocumentNotFound(f"no document {document_id!r} in this session")
        found = await self.ingests.locate(document_id, token_hash)
        if found is not None:
            return found
        document = documents[document_id]
        if document.status == "processing":  # leased, so queued or starting: no log yet
            return None
        entry: EventLog[IngestEvent] = EventLog(document_id, token_hash)
        entry.append(DocumentSettled(document))
        entry.finish()
        return Located.here(entry)
