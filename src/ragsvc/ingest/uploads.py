"""Use case: an upload. Its files go into the caller's session, or into a session made for
them (undone if the upload is refused, so no empty session is left behind), and are
ingested in one of three ways: before the reply (every file lands, or none does); in
background tasks of this process, the documents `processing` meanwhile; or by `ragsvc
worker` processes, through the queue."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ragsvc.core.schemas import Document
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.job_queue import IngestQueue
from ragsvc.ingest.steps import UploadedFile, screen
from ragsvc.sessions.lifecycle import NewSession, Sessions
from ragsvc.streams.events import IngestEvent
from ragsvc.streams.log_hub import LogHub


@dataclass(frozen=True)
class Uploaded:
    """The upload's documents, in upload order, and the session made for it, if one was."""

    documents: list[Document]
    created: NewSession | None


@dataclass(frozen=True)
class Uploads:
    ingestion: Ingestion
    sessions: Sessions
    ingests: LogHub[IngestEvent]  # the background ingests of this process
    queue: IngestQueue | None  # RAGSVC_INGEST_QUEUE=redis: workers ingest
    queue_wait_s: float  # how long a queued document waits for a worker

    async def upload(
        self, files: list[UploadedFile], token_hash: str | None, client: str, *, wait: bool
    ) -> Uploaded:
        """Ingest the files into the session of `token_hash` (None: a new one, for the
        client at address `client`); `wait`: before returning, else in the background
        (after refusing at once what needs no parsing to refuse)."""
        await anyio.to_thread.run_sync(_read_ahead, files, not wait)
        created = None if token_hash is not None else await self.sessions.create(client)
        target = created.meta.token_hash if created is not None else token_hash
        assert target is not None  # one of the two
        try:
            if wait:
                documents = await self.ingestion.ingest_files(target, files)
            else:
                documents = await self._in_background(target, files)
        except BaseException:
            if created is not None:  # do not leave an empty session behind a refused upload
                with anyio.CancelScope(shield=True):  # also when the client went away
                    await self.sessions.delete(target)
            raise
        return Uploaded(documents, created)

    async def _in_background(self, token_hash: str, files: list[UploadedFile]) -> list[Document]:
        """Record the files as `processing` documents and ingest each new one in a background
        task, or hand it to the workers (room for all of them is reserved first: a refusal
        comes before anything is recorded)."""
        async with self.ingests.reserve(token_hash, len(files)) as room:
            documents, jobs = await self.ingestion.register_uploads(token_hash, files)
            if self.queue is not None:
                await self.ingestion.hand_to_workers(
                    token_hash, jobs, self.queue, self.queue_wait_s
                )
                return documents
            for job in jobs:
                room.start(job.document.id, self.ingestion.in_background(token_hash, job))
        return documents


def _read_ahead(files: list[UploadedFile], screened: bool) -> None:
    """Blocking: each file's hash (a spooled file is read for it), and when `screened`, the
    checks that need no parsing, so a refusal comes before anything is recorded."""
    if screened:
        screen(files)
    for upload in files:
        _ = upload.sha256
