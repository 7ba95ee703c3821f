"""The two use cases: ingest uploaded PDFs into a session, and answer a question from it.

upload -> extract pages -> chunk -> embed -> index (persisted)
ask    -> retrieve -> prompt -> generate -> typed events
No FastAPI here; blocking work (PyMuPDF, FAISS, BM25, disk) crosses into worker threads.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import numpy as np

from ragsvc.backends import Backends
from ragsvc.chunking import chunk_text, clean_page_text, document_card
from ragsvc.config import Settings
from ragsvc.errors import (
    AnswerAbandoned,
    DocumentNotFound,
    IndexMismatch,
    InvalidInput,
    NoReadyDocuments,
    RagError,
    problem,
)
from ragsvc.eventlog import EventLog, Work
from ragsvc.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from ragsvc.index import SessionIndex
from ragsvc.ingest import parse_pdf
from ragsvc.prompts import Prompt
from ragsvc.retrieval import is_global_question, retrieve
from ragsvc.schemas import AskRequest, Chunk, Document, Source, Timings, Turn
from ragsvc.store import SessionState, now

log = logging.getLogger(__name__)
_CITATION = re.compile(r"\[(\d+)\]")
NO_TEXT_DETAIL = (
    "No extractable text: the PDF seems to be scanned images. Run it through OCR "
    "(for example ocrmypdf) and upload the result."
)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    data: bytes


@dataclass
class _Prepared:
    document: Document
    drafts: list[Chunk] = field(default_factory=list)  # ids assigned at commit


# ingest ----------------------------------------------------------------------------


def prepare_document(upload: UploadedFile, sha256: str, settings: Settings) -> _Prepared:
    """Blocking: parse and chunk one PDF; raises RagError for files that are not usable."""
    parsed = parse_pdf(upload.data, upload.filename, settings.max_pages)
    document = Document(
        id=uuid.uuid4().hex,
        filename=upload.filename,
        sha256=sha256,
        pages=len(parsed.pages),
        chunks=0,
        status="ready",
        title=parsed.title,
        created_at=now(),
    )
    if parsed.repaired:
        document.detail = "The file was damaged and has been repaired; some text may be missing."
    if not parsed.has_text:
        document.status, document.detail = "no_text", NO_TEXT_DETAIL
        return _Prepared(document)
    pages = [clean_page_text(text) for text in parsed.pages]
    card = document_card(parsed.title, parsed.outline, pages[0])
    drafts = [Chunk(id=-1, document_id=document.id, page=1, text=card, kind="card")]
    for number, text in enumerate(pages, start=1):
        for piece in chunk_text(text, settings.chunk_size, settings.chunk_overlap):
            drafts.append(Chunk(id=-1, document_id=document.id, page=number, text=piece))
    document.chunks = len(drafts)
    return _Prepared(document, drafts)


async def ingest_files(
    backends: Backends, settings: Settings, token_hash: str, uploads: list[UploadedFile]
) -> list[Document]:
    """Validate, parse, embed and index every file; all of them land, or none (first error)."""
    state = await backends.store.load_state(token_hash)
    known = {d.sha256 for d in state.documents.values()}
    hashes = [hashlib.sha256(u.data).hexdigest() for u in uploads]
    fresh: dict[str, _Prepared] = {}
    for upload, digest in zip(uploads, hashes, strict=True):
        if digest not in known and digest not in fresh:
            fresh[digest] = await anyio.to_thread.run_sync(
                prepare_document, upload, digest, settings
            )
    if not fresh:  # every file is already in the session: nothing to write
        by_sha = {d.sha256: d for d in state.documents.values()}
        return [by_sha[digest] for digest in dict.fromkeys(hashes)]
    drafts = [chunk for prepared in fresh.values() for chunk in prepared.drafts]
    vectors = await backends.embedder.embed([c.text for c in drafts]) if drafts else None
    embedder_name = backends.embedder.name

    def commit(state: SessionState) -> dict[str, Document]:
        by_sha = {d.sha256: d for d in state.documents.values()}
        new = [p for digest, p in fresh.items() if digest not in by_sha]  # lost a race: keep
        chunks = [c for p in new for c in p.drafts]
        if chunks and vectors is not None:
            if state.index is None:
                state.index = SessionIndex(embedder_name, int(vectors.shape[1]))
            _check_embedder(state.index, embedder_name)
            taken = {id(c) for c in chunks}
            keep = np.array([i for i, c in enumerate(drafts) if id(c) in taken], dtype=np.int64)
            for chunk, cid in zip(chunks, state.index.reserve_ids(len(chunks)), strict=True):
                chunk.id = cid
            state.index.add(chunks, vectors[keep])
        for prepared in new:
            state.documents[prepared.document.id] = prepared.document
            by_sha[prepared.document.sha256] = prepared.document
        return by_sha

    by_sha = await backends.store.update(token_hash, commit)
    return [by_sha[digest] for digest in dict.fromkeys(hashes)]


async def delete_document(backends: Backends, token_hash: str, document_id: str) -> None:
    def remove(state: SessionState) -> None:
        if document_id not in state.documents:
            raise DocumentNotFound(f"no document {document_id!r} in this session")
        del state.documents[document_id]
        if state.index is not None:
            state.index.remove_document(document_id)

    await backends.store.update(token_hash, remove)


def _check_embedder(index: SessionIndex, embedder_name: str) -> None:
    if index.embedder_name != embedder_name:
        raise IndexMismatch(
            f"this session was indexed with {index.embedder_name!r}, the server now embeds "
            f"with {embedder_name!r}; re-upload the documents into a new session"
        )


# answer ----------------------------------------------------------------------------


@dataclass
class AnswerPlan:
    """Everything settled before the first byte: sources found, generation under way."""

    answer_id: str
    token_hash: str
    question: str
    sources: list[Source]
    pieces: AsyncIterator[str]
    first: str
    started: float
    retrieval_ms: float
    first_token_ms: float


async def plan_answer(
    backends: Backends, settings: Settings, token_hash: str, request: AskRequest
) -> AnswerPlan:
    """Retrieve and start generating; failures here are plain HTTP errors, not events."""
    started = time.perf_counter()
    question = request.question.strip()
    if not question or len(question) > settings.max_question_chars:
        raise InvalidInput(f"the question must have 1 to {settings.max_question_chars} characters")
    state = await backends.store.load_state(token_hash)
    wanted = set(request.document_ids) if request.document_ids else None
    if wanted and (missing := wanted - state.documents.keys()):
        raise DocumentNotFound(f"no document {sorted(missing)[0]!r} in this session")
    ready = {d.id for d in state.documents.values() if d.status == "ready"}
    if state.index is None or not (ready & wanted if wanted else ready):
        raise NoReadyDocuments("upload a PDF with a text layer before asking")
    _check_embedder(state.index, backends.embedder.name)
    turns = (await backends.store.turns(token_hash))[-settings.history_turns :]
    global_question = is_global_question(question)
    hits = await retrieve(
        state.index,
        backends.embedder,
        question,
        [t.question for t in turns],
        request.top_k or settings.top_k,
        wanted,
        global_question,
    )
    retrieval_ms = _ms(started)
    sources = [
        Source(
            n=n,
            document_id=hit.chunk.document_id,
            filename=state.documents[hit.chunk.document_id].filename,
            page=hit.chunk.page,
            score=round(hit.score, 5),
            text=hit.chunk.text,
        )
        for n, hit in enumerate(hits, start=1)
    ]
    prompt = Prompt(
        question=question,
        sources=sources,
        history=turns,
        global_question=global_question,
        card_numbers=frozenset(n for n, h in enumerate(hits, start=1) if h.chunk.kind == "card"),
    )
    pieces = backends.generator.stream(prompt)
    first = await anext(pieces, "")  # an unreachable LLM becomes a 503 before the stream opens
    return AnswerPlan(
        answer_id=uuid.uuid4().hex,
        token_hash=token_hash,
        question=question,
        sources=sources,
        pieces=pieces,
        first=first,
        started=started,
        retrieval_ms=retrieval_ms,
        first_token_ms=_ms(started),
    )


async def answer_events(
    plan: AnswerPlan, backends: Backends, settings: Settings
) -> AsyncIterator[AnswerEvent]:
    """Sources, tokens, then done (turn recorded) or failed; closes the generator either way."""
    yield SourcesEvent(plan.sources)
    parts = [plan.first] if plan.first else []
    try:
        if plan.first:
            yield TokenEvent(plan.first)
        async for piece in plan.pieces:
            parts.append(piece)
            yield TokenEvent(piece)
    except RagError as exc:
        yield FailedEvent(exc.problem())
        return
    except Exception:
        log.exception("generation failed")
        yield FailedEvent(problem(500, "generation failed unexpectedly; see the server log"))
        return
    finally:
        with anyio.CancelScope(shield=True):  # runs on client disconnect too
            await plan.pieces.aclose()  # type: ignore[attr-defined]
    answer = "".join(parts)
    turn = Turn(question=plan.question, answer=answer, at=now())
    await backends.store.add_turn(plan.token_hash, turn, settings.history_turns)
    yield DoneEvent(
        answer=answer,
        citations=citations(answer, len(plan.sources)),
        timings=Timings(
            retrieval_ms=plan.retrieval_ms,
            first_token_ms=plan.first_token_ms,
            total_ms=_ms(plan.started),
        ),
    )


def answer_work(events: AsyncIterator[AnswerEvent]) -> Work[AnswerEvent]:
    """Background work writing an answer's events to its log; marks abandoned answers."""

    async def work(entry: EventLog[AnswerEvent]) -> None:
        try:
            async for event in events:
                entry.append(event)
        except anyio.get_cancelled_exc_class():
            entry.append(FailedEvent(AnswerAbandoned().problem()))
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]

    return work


def citations(answer: str, source_count: int) -> list[int]:
    """Source numbers cited by [n] markers, in order of first use, ignoring invalid ones."""
    cited = (int(m) for m in _CITATION.findall(answer))
    return list(dict.fromkeys(n for n in cited if 1 <= n <= source_count))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
