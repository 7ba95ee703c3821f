"""Use case: uploaded PDFs -> pages -> chunks -> vectors -> the session's index (persisted).

Two ways in. `Ingestion.ingest_files` does it all before answering (curl's default): every
file lands, or none does. `register_uploads` + `in_background` answer at once with documents
in `processing` and report progress events while each document is ingested on its own; a
file that turns out unusable becomes a `failed` document. No web framework here; blocking
work (PyMuPDF, chunking, FAISS, BM25, disk) crosses into worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from ragsvc.core.errors import DocumentNotFound, expected, problem_of
from ragsvc.core.schemas import Document
from ragsvc.ingest.fair_slots import FairSlots
from ragsvc.ingest.job_queue import IngestJob, IngestQueue
from ragsvc.ingest.part_commits import PartCommits
from ragsvc.ingest.steps import (
    IngestOptions,
    Prepared,
    RememberingEmbedder,
    UploadedFile,
    commit,
    embed,
    in_upload_order,
    new_document,
    prepare,
    within_quota,
)
from ragsvc.pdf.read import NO_LISTENERS, Listeners, PageExtractor
from ragsvc.search.embedders import Embedder
from ragsvc.storage.leases import Lease
from ragsvc.storage.protocols import LeaseStore, PdfStore, Spooled, StateStore, UploadSpool
from ragsvc.storage.records import SessionState
from ragsvc.streams.event_log import EventLog, Work
from ragsvc.streams.events import DocumentDeleted, DocumentSettled, IngestEvent

INTERRUPTED_DETAIL = (
    "Ingestion was interrupted (the server stopped, or could not store the document); "
    "upload the file again."
)
log = logging.getLogger(__name__)


class IngestStore(StateStore, LeaseStore, UploadSpool, PdfStore, Protocol):
    """What ingestion reads and writes of a store."""


@dataclass(frozen=True)
class Registered:
    """A new document recorded as `processing`, its file (spooled to disk, so a queue of
    uploads costs no memory), and the lease that marks it live."""

    document: Document
    filename: str
    spooled: Spooled
    lease: Lease


@dataclass
class Ingestion:
    """Puts uploaded PDFs into a session's index, and keeps its list of documents."""

    store: IngestStore
    embedder: Embedder
    pdf_workers: PageExtractor | None  # None: pages are extracted in the calling thread
    options: IngestOptions
    # Background ingests running at once, taken in turn by the sessions waiting (their files
    # on disk meanwhile).
    running: FairSlots = field(default_factory=lambda: FairSlots(2))
    observe: Callable[[Document], None] = lambda document: None  # told of each new document

    async def ingest_files(self, token_hash: str, uploads: list[UploadedFile]) -> list[Document]:
        """Validate, parse, embed and index every file; all of them land, or none (first error)."""
        state = await self.store.load_state(token_hash)
        known = {d.sha256 for d in state.documents.values()}
        fresh: dict[str, Prepared] = {}
        for upload in uploads:
            if upload.sha256 not in known and upload.sha256 not in fresh:
                item = await anyio.to_thread.run_sync(
                    prepare,
                    upload,
                    new_document(upload),
                    self.options,
                    NO_LISTENERS,
                    self.pdf_workers,
                )
                await embed(self.embedder, item)
                fresh[upload.sha256] = item
        if fresh:
            name = self.embedder.name
            by_sha = await self.store.update(
                token_hash,
                lambda s: commit(s, list(fresh.values()), name, self.options, replace=False),
            )
            for item in fresh.values():
                self.observe(item.document)
            await anyio.to_thread.run_sync(self._keep_pdfs, token_hash, fresh, uploads)
            await self._drop_pdfs_deleted(token_hash, [i.document.id for i in fresh.values()])
        else:  # every file is already in the session: nothing to write
            by_sha = {d.sha256: d for d in state.documents.values()}
        return in_upload_order(by_sha, uploads)

    async def register_uploads(
        self, token_hash: str, uploads: list[UploadedFile]
    ) -> tuple[list[Document], list[Registered]]:
        """Record new files as `processing` documents; returns all documents and those to
        ingest. Leases are taken under the session lock, so no reader sees an unleased one."""

        def add(state: SessionState) -> tuple[list[Document], list[Registered]]:
            by_sha = {d.sha256: d for d in state.documents.values()}
            new = []
            for upload in uploads:
                if upload.sha256 not in by_sha:
                    document = by_sha[upload.sha256] = new_document(upload)
                    state.documents[document.id] = document
                    new.append((document, upload))
            within_quota(state, self.options)  # before any lease is taken or file spooled
            return in_upload_order(by_sha, uploads), self._registered(token_hash, new)

        return await self.store.update(token_hash, add)

    def _registered(
        self, token_hash: str, new: list[tuple[Document, UploadedFile]]
    ) -> list[Registered]:
        """Blocking, under the session lock: a lease and a spooled file for each new document
        (on failure, the leases taken so far are released)."""
        leases: list[Lease] = []
        jobs: list[Registered] = []
        try:
            for document, upload in new:
                leases.append(self.store.take_lease(token_hash, document.id))
                spooled = self.store.spool(token_hash, document.id, upload.opened())
                jobs.append(Registered(document, upload.filename, spooled, leases[-1]))
        except BaseException:
            for lease in leases:
                lease.release()
            raise
        return jobs

    async def hand_to_workers(
        self, token_hash: str, jobs: list[Registered], queue: IngestQueue, wait_s: float
    ) -> None:
        """Queue registered documents for `ragsvc worker`: each lease stays alive `wait_s`
        seconds for a worker to take it over, after which the document fails. If the queue
        refuses one, the leases not yet handed over are released: those documents fail
        ("interrupted") at once instead of waiting."""
        for done, job in enumerate(jobs):
            try:
                await queue.put(IngestJob(token_hash, job.document.id, job.filename))
            except BaseException:
                with anyio.CancelScope(shield=True):
                    for left in jobs[done:]:
                        await anyio.to_thread.run_sync(left.lease.release)
                raise
            # After the put: a worker may already hold it, and then this changes nothing.
            await anyio.to_thread.run_sync(job.lease.hand_over, wait_s)

    async def take_over(self, queued: IngestJob) -> Registered | None:
        """A document queued by another process, to ingest here; None when it no longer
        waits (its session or the document was deleted, or it waited too long)."""
        token_hash, doc_id = queued.token_hash, queued.document_id
        lease = await anyio.to_thread.run_sync(self.store.take_over, token_hash, doc_id)
        if lease is None:
            return None
        try:
            document = (await self.store.load_state(token_hash)).documents.get(doc_id)
        except BaseException:
            await anyio.to_thread.run_sync(lease.release)
            raise
        if document is None or document.status != "processing":
            await anyio.to_thread.run_sync(lease.release)
            return None
        spooled = self.store.spooled(token_hash, doc_id)
        return Registered(document, queued.filename, spooled, lease)

    def in_background(self, token_hash: str, job: Registered) -> Work[IngestEvent]:
        """Background work for one registered document, reporting progress to its log. It
        always ends with the document `ready`, `no_text` or `failed`, whatever goes wrong,
        or with `deleted` when the document was deleted before it settled."""

        async def work(events: EventLog[IngestEvent]) -> None:
            item: Prepared | None = None
            kept = False
            try:
                async with self.running.slot(token_hash):
                    item = await self._prepared_or_failed(token_hash, job, events)
                # Other replicas follow the log once the document settles: its copy first.
                await events.copied()
                item, kept = await self._stored_or_failed(token_hash, item)
            finally:
                job.lease.release()  # after the final commit: never `processing` without a lease
                with anyio.CancelScope(shield=True):  # also when shutdown cancels a waiting one
                    await anyio.to_thread.run_sync(_settle_spooled, job, item, kept)
            if not kept:  # deleted meanwhile: the commit dropped it
                events.append(DocumentDeleted(job.document.id))
                return
            await self._drop_pdfs_deleted(token_hash, [job.document.id])
            self.observe(item.document)
            events.append(DocumentSettled(item.document))

        return work

    async def _prepared_or_failed(
        self, token_hash: str, job: Registered, events: EventLog[IngestEvent]
    ) -> Prepared:
        """The job's document parsed and embedded, with progress events, the pages read or
        embedded so far committed as it goes when that takes long (they can be asked about
        meanwhile); or, if that fails, the document `failed` with the reason."""
        steps = PartCommits(
            self.store,
            self.options,
            token_hash,
            job.document,
            events,
            RememberingEmbedder(self.embedder),
        )
        try:
            item = await anyio.to_thread.run_sync(
                _prepare_spooled, job, self.options, steps.listeners, self.pdf_workers
            )
            await embed(steps.embedder, item, steps.embedded, steps.commit)
        except Exception as exc:
            return Prepared(_failed(job.document, failure_detail(exc, "ingesting")))
        return item

    async def _stored_or_failed(self, token_hash: str, item: Prepared) -> tuple[Prepared, bool]:
        """Commit the item; if that fails, record its document as failed (when the store
        still takes a write) and return that instead; and whether the session still had the
        document to commit it in place of (not deleted meanwhile)."""
        name, kept = self.embedder.name, [True]

        def committed(state: SessionState, done: Prepared) -> None:
            kept[0] = done.document.id in state.documents
            commit(state, [done], name, self.options, replace=True)

        try:
            with anyio.CancelScope(shield=True):  # finish the write even during shutdown
                await self.store.update(token_hash, lambda s: committed(s, item))
            return item, kept[0]
        except Exception as exc:
            failed = Prepared(_failed(item.document, failure_detail(exc, "storing")))
        with suppress(Exception), anyio.CancelScope(shield=True):
            await self.store.update(token_hash, lambda s: committed(s, failed))
        return failed, kept[0]

    async def documents(self, token_hash: str) -> dict[str, Document]:
        """The session's documents, after failing those whose ingest died with its process."""
        state = await self.store.load_state(token_hash)
        processing = [d.id for d in state.documents.values() if d.status == "processing"]
        orphans = {i for i in processing if not await self.store.leased(token_hash, i)}
        if not orphans:
            return state.documents
        return await self.store.update(token_hash, lambda s: _fail_interrupted(s, orphans))

    async def document(self, token_hash: str, document_id: str) -> Document:
        """One document of the session (see `documents`); 404 when it has none such."""
        documents = await self.documents(token_hash)
        if document_id not in documents:
            raise DocumentNotFound(f"no document {document_id!r} in this session")
        return documents[document_id]

    async def delete_document(self, token_hash: str, document_id: str) -> None:
        def remove(state: SessionState) -> None:
            if document_id not in state.documents:
                raise DocumentNotFound(f"no document {document_id!r} in this session")
            del state.documents[document_id]
            if state.index is not None:
                state.index.remove_document(document_id)

        await self.store.update(token_hash, remove)
        await anyio.to_thread.run_sync(self.store.drop_pdf, token_hash, document_id)

    async def _drop_pdfs_deleted(self, token_hash: str, document_ids: list[str]) -> None:
        """A document deleted after its final commit but before its PDF was kept: its delete
        found no PDF to drop, so the PDF is dropped here, not left until the session ends."""
        documents = (await self.store.load_state(token_hash)).documents
        for document_id in document_ids:
            if document_id not in documents:
                await anyio.to_thread.run_sync(self.store.drop_pdf, token_hash, document_id)

    def _keep_pdfs(
        self, token_hash: str, fresh: dict[str, Prepared], uploads: list[UploadedFile]
    ) -> None:
        """Blocking: keep the PDFs of the documents just ingested, for their page images."""
        for upload in uploads:
            item = fresh.get(upload.sha256)
            if item is not None and item.document.status == "ready":
                self.store.keep_pdf(token_hash, item.document.id, upload.opened())


def failure_detail(exc: Exception, step: str) -> str:
    """What a failed document says: the problem's detail; an unexpected error is logged."""
    if not expected(exc):
        log.error("%s a document failed", step, exc_info=exc)
    return problem_of(exc).detail


def _prepare_spooled(
    job: Registered, options: IngestOptions, listeners: Listeners, extractor: PageExtractor | None
) -> Prepared:
    """Blocking: the spooled upload read and prepared in one call. An idle worker thread
    keeps the arguments and result of its last call: handed the bytes, each of the threads
    kept a whole PDF (20 background uploads of 43 MB held 860 MB after they were done)."""
    upload = UploadedFile(job.filename, job.spooled.read())
    return prepare(upload, job.document, options, listeners, extractor)


def _settle_spooled(job: Registered, item: Prepared | None, kept: bool) -> None:
    """Blocking: a ready document's spooled file becomes its kept PDF; any other goes."""
    if item is not None and kept and item.document.status == "ready":
        try:
            job.spooled.keep()
            return
        except OSError as exc:  # the document stands without its page images
            log.warning("could not keep the PDF of a document: %s", exc)
    job.spooled.remove()


def _failed(document: Document, detail: str) -> Document:
    return document.model_copy(update={"status": "failed", "detail": detail})


def _fail_interrupted(state: SessionState, orphans: set[str]) -> dict[str, Document]:
    """Mark as failed the orphans still `processing`: no live process is ingesting them."""
    for doc_id in orphans & state.documents.keys():
        if state.documents[doc_id].status == "processing":
            if state.index is not None:  # the chunks committed before it was interrupted
                state.index.remove_document(doc_id)
            state.documents[doc_id] = state.documents[doc_id].model_copy(
                update={"status": "failed", "detail": INTERRUPTED_DETAIL}
            )
    return state.documents
