"""Upload (multipart, size-capped while streaming) and per-session document management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse

from ragsvc.api.cookies import set_session_cookie
from ragsvc.api.deps import (
    OptionalSessionDep,
    SessionDep,
    StateDep,
    client_address,
    require_api_key,
)
from ragsvc.api.frame_schemas import stream_content
from ragsvc.api.multipart_files import UPLOAD_BODY, uploaded_files
from ragsvc.api.problems import header, problem_responses
from ragsvc.api.sse import DOCUMENT_ID_HEADER, event_stream, parse_event_id
from ragsvc.core.schemas import Document, DocumentList, UploadResult

router = APIRouter(tags=["documents"])
SESSION_COOKIE = {
    "Set-Cookie": header("the new session's cookie, if the upload created it", required=False)
}


@router.post(
    "/upload",
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        201: {"description": "stored and ingested", "headers": SESSION_COOKIE},
        202: {
            "model": UploadResult,
            "description": "with wait=false: accepted, documents `processing`",
            "headers": SESSION_COOKIE,
        },
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
    if session is None:  # a new session needs the API key, before the body is read
        await require_api_key(request, state)
    token_hash = session.token_hash if session is not None else None
    async with uploaded_files(request, state.settings.max_files) as files:
        client = client_address(request)
        uploaded = await state.uploads.upload(files, token_hash, client, wait=wait)
    if uploaded.created is not None:
        set_session_cookie(response, uploaded.created.token, state.settings, request)
    if not wait:
        response.status_code = 202
    token = uploaded.created.token if uploaded.created is not None else None
    return UploadResult(token=token, documents=uploaded.documents)


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
    return await state.ingestion.document(session.token_hash, document_id)


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
    response_class=Response,  # else FastAPI declares a JSON 200 beside the stream
    responses={
        200: {
            "description": "Server-Sent Events of the document's ingestion: `page` "
            "{page, pages} as pages are parsed, `chunks` {embedded, chunks} as they are "
            "embedded, then one of `ready`, `no_text`, `failed` with the Document. Ids are "
            "`<document_id>:<seq>`, and the `X-Document-Id` header names the document; "
            "`Last-Event-ID` resumes. A finished document gets its final event at once; "
            "one queued for a worker gets heartbeats until the worker starts it. The schema "
            "is one event's, its `data` parsed as JSON.",
            "headers": {
                DOCUMENT_ID_HEADER: header("the document's id, the first part of its event ids")
            },
            "content": stream_content("IngestStreamFrame"),
        },
        **problem_responses(404),
    },
    summary="Follow a document's ingestion",
)
async def document_events(
    document_id: str, request: Request, session: SessionDep, state: StateDep
) -> EventSourceResponse:
    parsed = parse_event_id(request.headers.get("last-event-id", ""))
    after = parsed[1] if parsed and parsed[0] == document_id else -1
    batches = await state.progress.follow(session.token_hash, document_id, after)  # 404 first
    return event_stream(document_id, batches, state.settings, {DOCUMENT_ID_HEADER: document_id})
