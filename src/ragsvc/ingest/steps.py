"""The steps of ingesting one PDF, each usable on its own: an upload becomes a new document
(screened by content first), is parsed and chunked (blocking: callers run it in a worker
thread), embedded in batches, then committed into a session's state."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO, Literal, TypeVar

import anyio
import numpy as np

from ragsvc.core.clock import now
from ragsvc.core.errors import QuotaExceeded, RagError, TooLarge
from ragsvc.core.schemas import Chunk, Document
from ragsvc.ingest.chunking import abstract, document_card, file_name_words, passages
from ragsvc.pdf.ocr import Ocr
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.pdf.read import (
    NO_LISTENERS,
    PDF_HEADER_WINDOW,
    Listeners,
    PageExtractor,
    ParseLimits,
    check_pdf_magic,
    parse_pdf,
)
from ragsvc.search.bm25_terms import Tokens, tokens_of
from ragsvc.search.embedders import Embedder, Vectors
from ragsvc.search.index import SessionIndex
from ragsvc.storage.records import SessionState
from ragsvc.text.languages import detect_language

NO_TEXT_DETAIL = (
    "No extractable text: the PDF seems to be scanned images. Run it through OCR "
    "(for example ocrmypdf) and upload the result, or have the server do it (RAGSVC_OCR=auto)."
)
OCR_DETAIL = "{ocr} of {pages} pages had no text layer and were read by OCR: expect some errors."
REPAIRED_DETAIL = "The file was damaged and has been repaired; some text may be missing."
EMBED_BATCH = 256  # chunks per embedding call: the unit of progress events
# A document that takes long to ingest is committed as it goes, every PART_EVERY_S at most:
# as its pages are read (pdf.read.Listeners), then as its chunks are embedded.
PART_EVERY_S = 2.0
# Where a document's BM25 terms are made while its chunks are embedded (`embed`): a pool
# of its own, not an anyio task group, which would wrap a failed embedding in an exception
# group; two threads, as background ingests run two at once (more documents wait a turn).
_TERM_THREADS = ThreadPoolExecutor(2, thread_name_prefix="bm25-terms")
T = TypeVar("T")


@dataclass(frozen=True)
class IngestOptions:
    """The settings ingestion reads, under their names in `Settings` (which holds the
    defaults): RAGSVC_MAX_PAGES, _CHUNK_SIZE, _CHUNK_OVERLAP, _DOCUMENT_CARDS."""

    max_pages: int
    max_page_chars: int
    max_document_chars: int
    max_chunks: int
    max_session_documents: int
    max_session_chunks: int
    max_session_mb: float
    chunk_size: int
    chunk_overlap: int
    document_cards: bool
    ocr: Literal["off", "auto"]
    ocr_language: str
    ocr_dpi: int
    parse_memory_mb: int  # also bounds the size of a page rendered for OCR
    max_shared_content_mb: float

    @property
    def parse_limits(self) -> ParseLimits:
        ocr = None
        if self.ocr == "auto":
            ocr = Ocr(self.ocr_language, self.ocr_dpi, self.parse_memory_mb)
        return ParseLimits(
            self.max_pages,
            self.max_page_chars,
            self.max_document_chars,
            ocr,
            int(self.max_shared_content_mb * 2**20),
        )


READ_BLOCK = 2**20


@dataclass(frozen=True)
class UploadedFile:
    """An uploaded PDF: its bytes, or the temporary file the multipart parser spooled it to.
    A spooled one is read whole only to be parsed, so background uploads, which are spooled
    again for their ingest, never sit in memory. Its file is read by blocking calls."""

    filename: str
    content: bytes | BinaryIO

    @property
    def data(self) -> bytes:
        """Its bytes; a spooled one's read again each time, not kept (see `prepare`)."""
        if isinstance(self.content, bytes):
            return self.content
        self.content.seek(0)
        return self.content.read()

    @cached_property
    def size(self) -> int:
        if isinstance(self.content, bytes):
            return len(self.content)
        return self.content.seek(0, os.SEEK_END)

    @cached_property
    def sha256(self) -> str:
        """Hashed once: it is asked for several times, and an upload may be 50 MB."""
        if isinstance(self.content, bytes):
            return hashlib.sha256(self.content).hexdigest()
        digest = hashlib.sha256()
        self.content.seek(0)
        while block := self.content.read(READ_BLOCK):
            digest.update(block)
        return digest.hexdigest()

    def head(self, size: int) -> bytes:
        """Its first `size` bytes."""
        if isinstance(self.content, bytes):
            return self.content[:size]
        self.content.seek(0)
        return self.content.read(size)

    def opened(self) -> BinaryIO:
        """Its content as a file, at its start."""
        if isinstance(self.content, bytes):
            return io.BytesIO(self.content)
        self.content.seek(0)
        return self.content


@dataclass
class Prepared:
    """A parsed, chunked and (once embedded) vectorised document, not yet in the index."""

    document: Document
    drafts: list[Chunk] = field(default_factory=list)  # ids are assigned at commit
    vectors: Vectors | None = None
    tokens: list[Tokens] | None = None  # each draft's BM25 terms, made with its vector
    committed: int = 0  # drafts already in the index, committed while it was embedded
    adds: bool = False  # its drafts join its document's chunks indexed before, not replace them


def in_upload_order(by_sha: dict[str, Document], uploads: list[UploadedFile]) -> list[Document]:
    """The document of each upload, in upload order, each once (same content, same one)."""
    return [by_sha[sha] for sha in dict.fromkeys(u.sha256 for u in uploads)]


def screen(uploads: list[UploadedFile]) -> None:
    """The checks that need no parsing (empty, not a PDF), so they can fail a request early."""
    for upload in uploads:
        try:
            check_pdf_magic(upload.head(PDF_HEADER_WINDOW))
        except RagError as exc:
            raise type(exc)(f"{upload.filename}: {exc.detail}") from exc


def new_document(upload: UploadedFile) -> Document:
    return Document(
        id=uuid.uuid4().hex,
        filename=upload.filename,
        sha256=upload.sha256,
        size=upload.size,
        pages=0,
        chunks=0,
        status="processing",
        created_at=now(),
    )


def prepare(
    upload: UploadedFile,
    document: Document,
    options: IngestOptions,
    listeners: Listeners = NO_LISTENERS,
    extractor: PageExtractor | None = None,
) -> Prepared:
    """Blocking: parse and chunk one PDF; raises RagError for files that are not usable."""
    parsed = parse_pdf(upload.data, upload.filename, options.parse_limits, listeners, extractor)
    return prepared(parsed, document, options)


def prepared(parsed: ParsedDocument, document: Document, options: IngestOptions) -> Prepared:
    """The parsed document chunked, `ready` (or `no_text`); raises TooLarge past the
    chunks a document may have."""
    language = detect_language(block.text for page in parsed.pages for block in page)
    done = document.model_copy(
        update={
            "pages": len(parsed.pages),
            "status": "ready",
            "title": parsed.title,
            "language": language,
        }
    )
    if parsed.repaired:
        done.detail = REPAIRED_DETAIL
    elif parsed.ocr_pages:
        done.detail = OCR_DETAIL.format(ocr=parsed.ocr_pages, pages=len(parsed.pages))
    if not parsed.has_text:
        done.status, done.detail = "no_text", NO_TEXT_DETAIL
        return Prepared(done)
    drafts = chunk_drafts(parsed, done, options, language)
    if len(drafts) > options.max_chunks:
        raise TooLarge(f"{document.filename}: more than {options.max_chunks:,} chunks of text")
    done.chunks = len(drafts)
    return Prepared(done, drafts)


def part_of(parsed: ParsedDocument, document: Document, options: IngestOptions) -> Prepared:
    """The pages read so far of a document being parsed, chunked, the document still
    `processing` (no drafts if they hold no text yet)."""
    part = prepared(parsed, document, options)
    part.document = part.document.model_copy(
        update={"status": "processing", "detail": None, "chunks": len(part.drafts)}
    )
    return part


def listening(
    on_page: Callable[[int, int], None], on_part: Callable[[ParsedDocument], None]
) -> Listeners:
    """Listeners hearing of a PDF as it is read, handed its pages read so far at ingest's
    pace (PART_EVERY_S)."""
    return Listeners(on_page, on_part, PART_EVERY_S)


def chunk_drafts(
    parsed: ParsedDocument, document: Document, options: IngestOptions, language: str = "en"
) -> list[Chunk]:
    """The document's card (if cards are on) and its passages, ids still unassigned, in
    the document's language."""
    document_id = document.id
    drafts = []
    if options.document_cards:
        card = document_card(parsed.title, parsed.outline, abstract(parsed.pages[0]))
        names = file_name_words(document.filename)
        drafts.append(
            Chunk(
                id=-1,
                document_id=document_id,
                page=1,
                text=card,
                kind="card",
                language=language,
                names=names or None,
            )
        )
    for passage in passages(parsed.pages, options.chunk_size, options.chunk_overlap):
        drafts.append(
            Chunk(
                id=-1,
                document_id=document_id,
                page=passage.page,
                text=passage.text,
                kind=passage.kind,
                section=passage.section,
                language=language,
            )
        )
    return drafts


async def embed(
    embedder: Embedder,
    prepared: Prepared,
    on_batch: Callable[[int, int], None] | None = None,
    on_part: Callable[[Prepared], Awaitable[None]] | None = None,
) -> None:
    """Vectorise the drafts in batches, reporting (embedded, total) after each, and make
    their BM25 terms. With `on_part`, while batches remain, it is handed the chunks embedded
    so far and not yet handed over, every PART_EVERY_S seconds at most (as the pages read
    while it was parsed), as a `processing` document."""
    # Each text's sentences are split and its signposts dropped: 0.3 s for 2,000 chunks,
    # which would hold the event loop (the slow non-blocking test caught it). The BM25 terms
    # come from the same texts, once, and not under the session's lock at commit.
    texts = await anyio.to_thread.run_sync(search_texts, prepared.drafts)
    # The terms (Python) are made beside the embedding, whose tokenizer and sums run
    # without the GIL: on two cores the two take about what the embedding alone does.
    terms = _TERM_THREADS.submit(tokens_of, prepared.drafts, texts)

    async def hand_over(vectors: Vectors, done: int) -> None:
        assert on_part is not None
        prepared.tokens = await _result(terms)  # a part holds its chunks' terms
        await on_part(_part(prepared, vectors, done))
        prepared.committed = done

    parts = hand_over if on_part else None
    prepared.vectors = await _embedded(embedder, texts, on_batch, parts)
    prepared.tokens = await _result(terms)


async def _result(future: Future[T]) -> T:
    """A future's result, waited for in a worker thread if it is not there yet."""
    if future.done():
        return future.result()
    return await anyio.to_thread.run_sync(future.result)


async def _embedded(
    embedder: Embedder,
    texts: list[str],
    on_batch: Callable[[int, int], None] | None,
    on_part: Callable[[Vectors, int], Awaitable[None]] | None,
) -> Vectors | None:
    """The texts' vectors, in batches; `on_part` handed those embedded so far (and how
    many) every PART_EVERY_S seconds at most while batches remain."""
    parts: list[Vectors] = []
    last_part = time.monotonic()
    for start in range(0, len(texts), EMBED_BATCH):
        parts.append(await embedder.embed(texts[start : start + EMBED_BATCH]))
        done = min(start + EMBED_BATCH, len(texts))
        if on_batch is not None:
            on_batch(done, len(texts))
        if on_part and done < len(texts) and time.monotonic() - last_part >= PART_EVERY_S:
            await on_part(np.concatenate(parts), done)
            last_part = time.monotonic()
    return np.concatenate(parts) if parts else None


def search_texts(chunks: list[Chunk]) -> list[str]:
    """Blocking: what each chunk is embedded as, and its BM25 terms made from
    (`Chunk.search_text`)."""
    return [chunk.search_text for chunk in chunks]


class RememberingEmbedder:
    """An embedder that remembers the vectors of the texts it embedded: one document's
    chunks, committed while it was still being read, are not embedded again at the end."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._known: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return self._embedder.name

    async def embed(self, texts: list[str]) -> Vectors:
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        if new:
            self._known.update(zip(new, await self._embedder.embed(new), strict=True))
        if not texts:
            return await self._embedder.embed([])
        return np.stack([self._known[t] for t in texts])


def _part(prepared: Prepared, vectors: Vectors, done: int) -> Prepared:
    """The drafts embedded since the last part (copies: the index keeps what it is given),
    under the document still `processing`, counting the chunks indexed so far."""
    document = prepared.document.model_copy(update={"status": "processing", "chunks": done})
    start = prepared.committed
    drafts = [chunk.model_copy() for chunk in prepared.drafts[start:done]]
    tokens = prepared.tokens[start:done] if prepared.tokens is not None else None
    return Prepared(document, drafts, vectors[start:done], tokens, adds=bool(start))


def commit(
    state: SessionState,
    items: list[Prepared],
    embedder_name: str,
    options: IngestOptions,
    *,
    replace: bool,
) -> dict[str, Document]:
    """Put prepared documents into a state, within the session's quotas; returns every
    document of the state by sha256.

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
        if not (item.adds or item.committed) and state.index is not None:
            state.index.remove_document(doc.id)  # what a part of it read earlier put there
        if item.drafts[item.committed :] and item.vectors is not None:
            start = item.committed
            tokens = item.tokens[start:] if item.tokens is not None else None
            _index(state, item.drafts[start:], item.vectors[start:], embedder_name, tokens)
        state.documents[doc.id] = doc
        by_sha[doc.sha256] = doc
    within_quota(state, options)
    return by_sha


def within_quota(state: SessionState, options: IngestOptions) -> None:
    """Refuse (413) a state holding more documents, chunks or bytes than a session may."""
    documents = state.documents.values()
    size_mb = sum(d.size for d in documents) / 2**20
    chunks = len(state.index) if state.index is not None else 0
    for count, limit, what in (
        (len(documents), options.max_session_documents, "documents"),
        (chunks, options.max_session_chunks, "chunks"),
        (size_mb, options.max_session_mb, "MB of PDFs"),
    ):
        if count > limit:
            raise QuotaExceeded(f"a session may hold at most {limit:g} {what}")


def _index(
    state: SessionState,
    drafts: list[Chunk],
    vectors: Vectors,
    embedder_name: str,
    tokens: list[Tokens] | None,
) -> None:
    """Give the drafts their chunk ids and add them, with their vectors (and their terms,
    when made with the vectors), to the state's index (made if need be)."""
    if state.index is None:
        state.index = SessionIndex(embedder_name, int(vectors.shape[1]))
    state.index.check_embedder(embedder_name)
    for chunk, cid in zip(drafts, state.index.reserve_ids(len(drafts)), strict=True):
        chunk.id = cid
    state.index.add(drafts, vectors, tokens)
