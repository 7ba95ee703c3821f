"""Use case: uploaded PDFs -> pages -> chunks -> vectors -> the session's index (persisted).

Two ways in. `Ingestion.ingest_files` does it all before answering (curl's default): every
file lands, or none does. `register_uploads` + `in_background` answer at once with documents
in `processing` and report progress events while each document is ingested on its own; a
file that turns out unusable becomes a `failed` document. No web framework here; blocking
work (PyMuPDF, chunking, FAISS, BM25, disk) crosses into worker threads.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import anyio
import numpy as np

from ragsvc.chunking import abstract, document_card, passages
from ragsvc.clock import now
from ragsvc.embeddings import Embedder, Vectors
from ragsvc.errors import DocumentNotFound, RagError
from ragsvc.eventlog import EventLog, Work
from ragsvc.events import ChunksEmbedded, DocumentSettled, IngestEvent, PageParsed
from ragsvc.index import SessionIndex
from ragsvc.leases import Lease
from ragsvc.parsed import ParsedDocument
from ragsvc.pdf import PageExtractor, check_pdf_magic, parse_pdf
from ragsvc.schemas import Chunk, Document
from ragsvc.store import SessionState, Store

NO_TEXT_DETAIL = (
    "No extractable text: the PDF seems to be scanned images. Run it through OCR "
    "(for example ocrmypdf) and upload the result."
)
REPAIRED_DETAIL = "The file was damaged and has been repaired; some text may be missing."
INTERRUPTED_DETAIL = "Ingestion was interrupted (the server stopped); upload the file again."
EMBED_BATCH = 256  # chunks per embedding call: the unit of progress events


@dataclass(frozen=True)
class IngestOptions:
    """The settings ingestion reads, under their names in `Settings` (which holds the
    defaults): RAGSVC_MAX_PAGES, _CHUNK_SIZE, _CHUNK_OVERLAP, _DOCUMENT_CARDS."""

    max_pages: int
    chunk_size: int
    chunk_overlap: int
    document_cards: bool


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes

    @cached_property
    def sha256(self) -> str:
        """Hashed once: it is asked for several times, and an upload may be 50 MB."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Prepared:
    """A parsed, chunked and (once embedded) vectorised document, not yet in the index."""

    document: Document
    drafts: list[Chunk] = field(default_factory=list)  # ids are assigned at commit
    vectors: Vectors | None = None


def in_upload_order(by_sha: dict[str, Document], uploads: list[UploadedFile]) -> list[Document]:
    """The document of each upload, in upload order, each once (same content, same one)."""
    return [by_sha[sha] for sha in dict.fromkeys(u.sha256 for u in uploads)]


def screen(uploads: list[UploadedFile]) -> None:
    """The checks that need no parsing (empty, not a PDF), so they can fail a request early."""
    for upload in uploads:
        try:
            check_pdf_magic(upload.data)
        except RagError as exc:
            raise type(exc)(f"{upload.filename}: {exc.detail}") from exc


def new_document(upload: UploadedFile) -> Document:
    return Document(
        id=uuid.uuid4().hex,
        filename=upload.filename,
        sha256=upload.sha256,
        pages=0,
        chunks=0,
        status="processing",
        created_at=now(),
    )


def prepare(
    upload: UploadedFile,
    document: Document,
    options: IngestOptions,
    on_page: Callable[[int, int], None] | None = None,
    extractor: PageExtractor | None = None,
) -> Prepared:
    """Blocking: parse and chunk one PDF; raises RagError for files that are not usable."""
    parsed = parse_pdf(upload.data, upload.filename, options.max_pages, on_page, extractor)
    done = document.model_copy(
        update={"pages": len(parsed.pages), "status": "ready", "title": parsed.title}
    )
    if parsed.repaired:
        done.detail = REPAIRED_DETAIL
    if not parsed.has_text:
        done.status, done.detail = "no_text", NO_TEXT_DETAIL
        return Prepared(done)
    drafts = chunk_drafts(parsed, done.id, options)
    done.chunks = len(drafts)
    return Prepared(done, drafts)


def chunk_drafts(parsed: ParsedDocument, document_id: str, options: IngestOptions) -> list[Chunk]:
    """The document's card (if cards are on) and its passages, ids still unassigned."""
    drafts = []
    if options.document_cards:
        card = document_card(parsed.title, parsed.outline, abstract(parsed.pages[0]))
        drafts.append(Chunk(id=-1, document_id=document_id, page=1, text=card, kind="card"))
    for passage in passages(parsed.pages, options.chunk_size, options.chunk_overlap):
        drafts.append(
            Chunk(
                id=-1,
                document_id=document_id,
                page=passage.page,
                text=passage.text,
                kind=passage.kind,
                section=passage.section,
            )
        )
    return drafts


async def embed(
    embedder: Embedder, prepared: Prepared, on_batch: Callable[[int, int], None] | None = None
) -> None:
    """Vectorise the drafts in batches, reporting (embedded, total) after each."""
    texts = [chunk.search_text for chunk in prepared.drafts]
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        parts.append(await embedder.embed(texts[start : start + EMBED_BATCH]))
        if on_batch is not None:
            on_batch(min(start + EMBED_BATCH, len(texts)), len(texts))
    prepared.vectors = np.concatenate(parts) if parts else None


def commit(
    state: SessionState, items: list[Prepared], embedder_name: str, *, replace: bool
) -> dict[str, Document]:
    """Put prepared documents into a state; returns every document of the state by sha256.

    With `replace`, each item takes the place of its `processing` entry and is dropped if
    that entry was deleted meanwhile; without it, an item whose content is already in the
    session (a concurrent upload of the same file) is dropped in favour of that one.
    """
    by_sha = {d.sha256: d for d in state.documents.values()}
    for item in items:
        doc = item.document
        current = state.documents.get(doc.id) if replace else by_sha.get(doc.sha256)
        if (current is None) if replace else (current is not None):
            continue
        if item.drafts and item.vectors is not None:
            _index(state, item.drafts, item.vectors, embedder_name)
        state.documents[doc.id] = doc
        by_sha[doc.sha256] = doc
    return by_sha


def _index(state: SessionState, drafts: list[Chunk], vectors: Vectors, embedder_name: str) -> None:
    """Give the drafts their chunk ids and add them to the state's index (made if need be)."""
    if state.index is None:
        state.index = SessionIndex(embedder_name, int(vectors.shape[1]))
    state.index.check_embedder(embedder_name)
    for chunk, cid in zip(drafts, state.index.reserve_ids(len(drafts)), strict=True):
        chunk.id = cid
    state.index.add(drafts, vectors)


@dataclass(frozen=True)
class Registered:
    """A new document recorded as `processing`, its file, and the lease that marks it live."""

    document: Document
    upload: UploadedFile
    lease: Lease


@dataclass
class Ingestion:
    """Puts uploaded PDFs into a session's index, and keeps its list of documents."""

    store: Store
    embedder: Embedder
    pdf_workers: PageExtractor | None  # None: pages are extracted in the calling thread
    options: IngestOptions

    async def ingest_files(self, token_hash: str, uploads: list[UploadedFile]) -> list[Document]:
        """Validate, parse, embed and index every file; all of them land, or none (first error)."""
        state = await self.store.load_state(token_hash)
        known = {d.sha256 for d in state.documents.values()}
        fresh: dict[str, Prepared] = {}
        for upload in uploads:
            if upload.sha256 not in known and upload.sha256 not in fresh:
                item = await anyio.to_thread.run_sync(
                    prepare, upload, new_document(upload), self.options, None, self.pdf_workers
                )
                await embed(self.embedder, item)
                fresh[upload.sha256] = item
        if fresh:
            name = self.embedder.name
            by_sha = await self.store.update(
                token_hash, lambda s: commit(s, list(fresh.values()), name, replace=False)
            )
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
            todo = []
            for upload in uploads:
                if upload.sha256 not in by_sha:
                    document = by_sha[upload.sha256] = new_document(upload)
                    state.documents[document.id] = document
                    lease = self.store.take_lease(token_hash, document.id)
                    todo.append(Registered(document, upload, lease))
            return in_upload_order(by_sha, uploads), todo

        return await self.store.update(token_hash, add)

    def in_background(self, token_hash: str, job: Registered) -> Work[IngestEvent]:
        """Background work for one registered document, reporting progress to its log."""

        async def work(log: EventLog[IngestEvent]) -> None:
            try:
                item = await self._prepared_or_failed(job, log)
                name = self.embedder.name
                with anyio.CancelScope(shield=True):  # finish the write even during shutdown
                    await self.store.update(
                        token_hash, lambda s: commit(s, [item], name, replace=True)
                    )
            finally:
                job.lease.release()  # after the final commit: never `processing` without a lease
            log.append(DocumentSettled(item.document))

        return work

    async def _prepared_or_failed(self, job: Registered, log: EventLog[IngestEvent]) -> Prepared:
        """The job's document parsed and embedded, with progress events; or, if the file
        is unusable, the document `failed` with the reason."""

        def page_parsed(page: int, pages: int) -> None:
            anyio.from_thread.run_sync(log.append, PageParsed(page, pages))

        def report(embedded: int, total: int) -> None:
            log.append(ChunksEmbedded(embedded, total))

        try:
            item = await anyio.to_thread.run_sync(
                prepare, job.upload, job.document, self.options, page_parsed, self.pdf_workers
            )
            await embed(self.embedder, item, report)
        except RagError as exc:
            failed = job.document.model_copy(update={"status": "failed", "detail": exc.detail})
            return Prepared(failed)
        return item

    async def documents(self, token_hash: str) -> dict[str, Document]:
        """The session's documents, after failing those whose ingest died with its process."""
        state = await self.store.load_state(token_hash)
        processing = [d.id for d in state.documents.values() if d.status == "processing"]
        orphans = {i for i in processing if not await self.store.leased(token_hash, i)}
        if not orphans:
            return state.documents
        return await self.store.update(token_hash, lambda s: _fail_interrupted(s, orphans))

    async def delete_document(self, token_hash: str, document_id: str) -> None:
        def remove(state: SessionState) -> None:
            if document_id not in state.documents:
                raise DocumentNotFound(f"no document {document_id!r} in this session")
            del state.documents[document_id]
            if state.index is not None:
                state.index.remove_document(document_id)

        await self.store.update(token_hash, remove)


def _fail_interrupted(state: SessionState, orphans: set[str]) -> dict[str, Document]:
    """Mark as failed the orphans still `processing`: no live process is ingesting them."""
    for doc_id in orphans & state.documents.keys():
        if state.documents[doc_id].status == "processing":
            state.documents[doc_id] = state.documents[doc_id].model_copy(
                update={"status": "failed", "detail": INTERRUPTED_DETAIL}
            )
    return state.documents
