"""Upload (multipart, size-capped while streaming) and per-session document management."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse
from starlette.datastructures import FormData, UploadFile

from ragsvc.api.deps import (
    CurrentSession,
    OptionalSessionDep,
    SessionDep,
    StateDep,
    require_api_key,
)
from ragsvc.api.frame_schemas import stream_content
from ragsvc.api.problems import problem_responses
from ragsvc.api.routes.sessions import start_session
from ragsvc.api.sse import DOCUMENT_ID_HEADER, event_stream, parse_event_id
from ragsvc.core.errors import BackendUnavailable, BadRequest, DocumentNotFound, RagError, disk_full
from ragsvc.core.schemas import Document, DocumentList, SessionCreated, UploadResult
from ragsvc.ingest.steps import UploadedFile, screen
from ragsvc.runtime.app_state import AppState
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.streams.event_log import EventLog, Located
from ragsvc.streams.events import DocumentSettled, IngestEvent

router = APIRouter(tags=["documents"])
QUEUE_POLL_S = 0.25  # how often a stream of a queued document looks for its worker

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more PDFs (repeat the field)",
                        }
                    },
                }
            }
        },
    }
}


async def read_uploads(request: Request, max_files: int) -> list[UploadedFile]:
    """The files of the multipart field `files`, read whole (middleware.BodyLimit bounds
    the body)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the PDFs as multipart/form-data in the field 'files'")
    form = await _form(request, max_files)
    try:
        parts = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not parts:
            raise BadRequest("no file in the multipart field 'files'")
        return [UploadedFile(p.filename or "upload.pdf", await p.read()) for p in parts]
    finally:
        await form.close()


async def _form(request: Request, max_files: int) -> FormData:
    try:
        return await request.form(max_files=max_files, max_fields=10)
    except RagError:
        raise
    except OSError as exc:  # spooling the body to the temp dir failed: not the client's fault
        if disk_full(exc):
            raise  # 507
        temp = tempfile.gettempdir()
        raise BackendUnavailable(f"the temporary directory {temp} is not writable") from exc
    except Exception as exc:  # python-multipart / starlette parse errors
        raise BadRequest(f"malformed multipart body: {exc}") from exc


@router.post(
    "/upload",
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        202: {"description": "with wait=false: accepted, documents `processing`"},
        **problem_responses(400, 413, 415, 422, 503, 507),
    },
    summary="Upload PDFs; without a token this creates a session and returns its token",
)
async def upload(
    request: Request,
    response: Response,
    session: OptionalSessionDep,
    state: StateDep,
    wait: Annotated[
        bool,
        Query(
            description="false: answer 202 at once with documents `processing`; "
            "follow each one's progress at /documents/{id}/events"
        ),
    ] = True,
) -> UploadResult:
    uploads = await _allowed_uploads(request, session, state, screened=not wait)
    token_hash, created = await _upload_session(request, response, session, state)
    try:
        if wait:
            documents = await state.ingestion.ingest_files(token_hash, uploads)
        else:
            documents = await _ingest_in_background(state, token_hash, uploads)
            response.status_code = 202
    except BaseException:
        if created is not None:  # do not leave an empty session behind a rejected upload
            with anyio.CancelScope(shield=True):  # also when the client went away
                await state.backends.store.delete_session(token_hash)
        raise
    return UploadResult(token=created.token if created else None, documents=documents)


async def _allowed_uploads(
    request: Request, session: CurrentSession | None, state: AppState, *, screened: bool
) -> list[UploadedFile]:
    """The uploaded files, read only once the caller may upload (a new session needs the
    API key first); `screened`: what can be refused at once is (before a 202)."""
    if session is None:
        await require_api_key(request, state)
    settings = state.settings
    uploads = await read_uploads(request, settings.max_files)
    if screened:
        screen(uploads)
    return uploads


async def _upload_session(
    request: Request, response: Response, session: CurrentSession | None, state: AppState
) -> tuple[str, SessionCreated | None]:
    """The token hash of the caller's session, or of one created for this upload."""
    if session is not None:
        return session.token_hash, None
    created = await start_session(request, response, state)
    return hash_token(created.token), created


async def _ingest_in_background(
    state: AppState, token_hash: str, uploads: list[UploadedFile]
) -> list[Document]:
    """Record the uploads as `processing` and ingest each new one in a background task
    (room for all of them is reserved first: a refusal comes before anything is recorded)."""
    async with state.ingests.reserve(token_hash, len(uploads)) as room:
        documents, jobs = await state.ingestion.register_uploads(token_hash, uploads)
        if state.queue is not None:  # `ragsvc worker` processes ingest them
            wait_s = state.settings.queue_wait_s
            await state.ingestion.hand_to_workers(token_hash, jobs, state.queue, wait_s)
            return documents
        for job in jobs:
            room.start(job.document.id, state.ingestion.in_background(token_hash, job))
    return documents


@router.get("/documents", summary="The session's documents")
async def list_documents(session: SessionDep, state: StateDep) -> DocumentList:
    documents = await state.ingestion.documents(session.token_hash)
    return DocumentList(documents=list(documents.values()))


@router.get(
    "/documents/{document_id}",
    responses=problem_responses(404),
    summary="One document of the session",
)
async def get_document(document_id: str, session: SessionDep, state: StateDep) -> Document:
    documents = await state.ingestion.documents(session.token_hash)
    if document_id not in documents:
        raise DocumentNotFound(f"no document {document_id!r} in this session")
    return documents[document_id]


@router.delete(
    "/documents/{document_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete a document and its chunks",
)
async def remove_document(document_id: str, session: SessionDep, state: StateDep) -> None:
    await state.ingestion.delete_document(session.token_hash, document_id)


@router.get(
    "/documents/{document_id}/events",
    responses={
        200: {
            "description": "Server-Sent Events of the document's ingestion: `page` "
            "{page, pages} as pages are parsed, `chunks` {embedded, chunks} as they are "
            "embedded, then one of `ready`, `no_text`, `failed` with the Document. Ids are "
            "`<document_id>:<seq>`, and the `X-Document-Id` header names the document; "
            "`Last-Event-ID` resumes. A finished document gets its final event at once; "
            "one queued for a worker gets heartbeats until the worker starts it.",
            "content": stream_content("IngestStreamFrame"),
        },
        **problem_responses(404),
    },
    summary="Follow a document's ingestion",
)
async def document_events(
    document_id: str, request: Request, session: SessionDep, state: StateDep
) -> EventSourceResponse:
    found = await _log_of(state, session.token_hash, document_id)  # 404 before any byte
    parsed = parse_event_id(request.headers.get("last-event-id", ""))
    after = parsed[1] if parsed and parsed[0] == document_id else -1
    batches = _follow(state, session.token_hash, document_id, found, after)
    return event_stream(document_id, batches, state.settings, {DOCUMENT_ID_HEADER: document_id})


async def _follow(
    state: AppState,
    token_hash: str,
    document_id: str,
    found: Located[IngestEvent] | None,
    after: int,
) -> AsyncIterator[list[tuple[int, IngestEvent]]]:
    """The document's events; while it waits in the queue for a worker (no log anywhere yet,
    still `processing`), the stream stays open (heartbeats) until a worker starts it."""
    while found is None:
        await anyio.sleep(QUEUE_POLL_S)
        found = await _log_of(state, token_hash, document_id)
    async for batch in state.ingests.follow_located(found, after):
        yield batch


async def _log_of(
    state: AppState, token_hash: str, document_id: str
) -> Located[IngestEvent] | None:
    """The log of the document's ingest on any replica or worker; else a finished log of its
    final event; None while it is queued. 404 once the document is deleted, even while its
    log is still kept."""
    documents = await state.ingestion.documents(token_hash)
    if document_id not in documents:
        raise DocumentNotFound(f"no document {document_id!r} in this session")
    found = await state.ingests.locate(document_id, token_hash)
    if found is not None:
        return found
    document = documents[document_id]
    if document.status == "processing":  # leased, so queued or starting: no log yet
        return None
    entry: EventLog[IngestEvent] = EventLog(document_id, token_hash)
    entry.append(DocumentSettled(document))
    entry.finish()
    return Located.here(entry)
