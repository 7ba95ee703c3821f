"""Upload (multipart, size-capped while streaming) and per-session document management."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from ragsvc.deps import (
    BackendsDep,
    IngestsDep,
    LimiterDep,
    OptionalSessionDep,
    SessionDep,
    SettingsDep,
    require_api_key,
)
from ragsvc.errors import BadRequest, DocumentNotFound, RagError, TooLarge, problem_responses
from ragsvc.eventlog import EventLog
from ragsvc.events import DocumentSettled
from ragsvc.ingestion import (
    UploadedFile,
    delete_document,
    documents_of,
    ingest_files,
    ingest_in_background,
    register_uploads,
    screen,
)
from ragsvc.routes.sessions import start_session
from ragsvc.schemas import Document, DocumentList, SessionCreated, UploadResult
from ragsvc.sse import parse_event_id, stream_response
from ragsvc.tokens import hash_token

router = APIRouter(tags=["documents"])

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
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more PDFs (repeat the field)",
                        }
                    },
                }
            }
        },
    }
}


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"the upload is larger than the limit of {limit / 2**20:.3g} MB")


def capped(receive: Receive, limit: int) -> Receive:
    """Count body bytes as they arrive and stop at `limit`: nothing larger is ever read."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return receive_capped


async def read_uploads(request: Request, limit: int, max_files: int) -> list[UploadedFile]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the PDFs as multipart/form-data in the field 'files'")
    body = Request(request.scope, capped(request.receive, limit))
    try:
        form = await body.form(max_files=max_files, max_fields=10)
    except RagError:
        raise
    except Exception as exc:  # python-multipart / starlette parse errors
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    try:
        parts = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not parts:
            raise BadRequest("no file in the multipart field 'files'")
        return [UploadedFile(p.filename or "upload.pdf", await p.read()) for p in parts]
    finally:
        await form.close()


@router.post(
    "/upload",
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        202: {"description": "with wait=false: accepted, documents `processing`"},
        **problem_responses(400, 413, 415, 422, 503),
    },
    summary="Upload PDFs; without a token this creates a session and returns its token",
)
async def upload(
    request: Request,
    response: Response,
    session: OptionalSessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    limiter: LimiterDep,
    ingests: IngestsDep,
    wait: Annotated[
        bool,
        Query(
            description="false: answer 202 at once with documents `processing`; "
            "follow each one's progress at /documents/{id}/events"
        ),
    ] = True,
) -> UploadResult:
    uploads = await read_uploads(request, settings.max_upload_bytes, settings.max_files)
    if not wait:
        screen(uploads)  # what can be refused at once is refused before the 202
    created: SessionCreated | None = None
    if session is not None:
        token_hash = session.token_hash
    else:
        await require_api_key(request, settings)
        created = await start_session(request, response, settings, backends, limiter)
        token_hash = hash_token(created.token)
    try:
        if wait:
            documents = await ingest_files(backends, settings, token_hash, uploads)
        else:
            documents, jobs = await register_uploads(backends, token_hash, uploads)
            for job in jobs:
                work = ingest_in_background(backends, settings, token_hash, job)
                ingests.start(job.document.id, token_hash, work)
            response.status_code = 202
    except BaseException:
        if created is not None:  # do not leave an empty session behind a rejected upload
            with anyio.CancelScope(shield=True):  # also when the client went away
                await backends.store.delete_session(token_hash)
        raise
    return UploadResult(token=created.token if created else None, documents=documents)


@router.get("/documents", summary="The session's documents")
async def list_documents(session: SessionDep, backends: BackendsDep) -> DocumentList:
    documents = await documents_of(backends, session.token_hash)
    return DocumentList(documents=list(documents.values()))


@router.get(
    "/documents/{document_id}",
    responses=problem_responses(404),
    summary="One document of the session",
)
async def get_document(document_id: str, session: SessionDep, backends: BackendsDep) -> Document:
    documents = await documents_of(backends, session.token_hash)
    if document_id not in documents:
        raise DocumentNotFound(f"no document {document_id!r} in this session")
    return documents[document_id]


@router.delete(
    "/documents/{document_id}",
    status_code=204,
    responses=problem_responses(404),
    summary="Delete a document and its chunks",
)
async def remove_document(document_id: str, session: SessionDep, backends: BackendsDep) -> None:
    await delete_document(backends, session.token_hash, document_id)


@router.get(
    "/documents/{document_id}/events",
    responses={
        200: {
            "description": "Server-Sent Events of the document's ingestion: `page` "
            "{page, pages} as pages are parsed, `chunks` {embedded, chunks} as they are "
            "embedded, then one of `ready`, `no_text`, `failed` with the Document. Ids are "
            "`<document_id>:<seq>`; `Last-Event-ID` resumes. A document no longer being "
            "ingested here gets its final event at once.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problem_responses(404),
    },
    summary="Follow a document's ingestion",
)
async def document_events(
    document_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    ingests: IngestsDep,
) -> EventSourceResponse:
    entry = ingests.find(document_id, session.token_hash)
    if entry is None:  # not being ingested here: its stored state is the last word
        documents = await documents_of(backends, session.token_hash)
        if document_id not in documents:
            raise DocumentNotFound(f"no document {document_id!r} in this session")
        entry = EventLog(document_id, session.token_hash)
        entry.append(DocumentSettled(documents[document_id]))
        entry.finish()
    parsed = parse_event_id(request.headers.get("last-event-id", ""))
    after = parsed[1] if parsed and parsed[0] == document_id else -1
    return stream_response(document_id, ingests.follow(entry, after), settings)
