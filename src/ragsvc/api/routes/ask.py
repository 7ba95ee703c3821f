"""Asking: SSE by default (POST for fetch clients, GET for EventSource), JSON on request.

A request carrying `Last-Event-ID: <answer_id>:<seq>` resumes that answer instead of
asking again, as long as the answer is kept (RAGSVC_RESUME_WINDOW_S). POST takes ragsvc's
`{question}` or the body the Vercel AI SDK's `useChat` sends (api/protocols/ai_sdk_request.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ragsvc.answer.plan import AnswerPlan
from ragsvc.api.deps import CurrentSession, SessionDep, StateDep
from ragsvc.api.frame_schemas import stream_content
from ragsvc.api.problems import header, problem_responses
from ragsvc.api.protocols.ai_sdk_frames import HEADERS, ai_sdk_render
from ragsvc.api.protocols.ai_sdk_request import (
    AiSdkChatRequest,
    AskBody,
    asked,
    plain_for_ai_sdk,
)
from ragsvc.api.sse import (
    ANSWER_ID_HEADER,
    Batch,
    Render,
    event_stream,
    parse_event_id,
    ragsvc_frame,
    whole_event_stream,
)
from ragsvc.core.schemas import Answer, AskRequest, DocumentIds
from ragsvc.runtime.app_state import AppState
from ragsvc.streams.events import AnswerEvent, DoneEvent

router = APIRouter(tags=["ask"])
Rendering = Literal["ragsvc", "ai-sdk"]  # ragsvc's own events, or the AI SDK's chunks

EVENT_STREAM_DOC = (
    "Server-Sent Events: `sources`, then `token`s, then `done` or `error` (problem+json). "
    "Each event id is `<answer_id>:<seq>`; the `X-Answer-Id` header names the answer. "
    "Reconnecting with `Last-Event-ID` resumes the answer after that event; `204` when "
    "nothing follows it. The schema is one event's, its `data` parsed as JSON. "
    "(`Accept: application/json` still gets one Answer, as `POST /answers` does.)"
)
ANSWER_ID = {ANSWER_ID_HEADER: header("the answer's id, the first part of its event ids")}
ASK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": EVENT_STREAM_DOC,
        "headers": ANSWER_ID,
        "content": stream_content("AnswerStreamFrame", "AiSdkFrame"),
    },
    204: {"description": "resumed after the answer's last event: nothing more to send"},
    # 413 and the connection cap's 503 come from middleware, before any route: problem+json only
    **plain_for_ai_sdk(problem_responses(400, 401, 404, 409, 422, 429, 503, 507)),
}
ANSWERS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the whole answer", "headers": ANSWER_ID},
    **problem_responses(404, 409, 422, 503, 507),
}


async def respond(
    request: Request,
    session: CurrentSession,
    state: AppState,
    body: AskRequest | AiSdkChatRequest,
    rendering: Rendering = "ragsvc",
) -> Response:
    """Resume the answer named by Last-Event-ID, or answer afresh: as a stream (ragsvc's
    events, or the AI SDK's chunks), or whole."""
    resumed = await resume(request, session, state, rendering)
    if resumed is not None:
        return resumed
    question, history = asked(body)  # history: the conversation an AI SDK client sent
    if wants_json(request):
        plan, done = await state.answering.whole(session.token_hash, question, history)
        return json_answer(plan, done)
    started = await state.answering.stream(session.token_hash, question, history)
    answer_id = started.plan.answer_id
    if started.whole is not None:
        return whole_answer_stream(answer_id, started.whole, state, request, rendering)
    return answer_stream(answer_id, started.batches, state, request, rendering)


async def resume(
    request: Request, session: CurrentSession, state: AppState, rendering: Rendering
) -> Response | None:
    """The rest of a kept answer named by Last-Event-ID; None to answer afresh."""
    header = request.headers.get("last-event-id")
    parsed = parse_event_id(header) if header else None
    if parsed is None or wants_json(request):
        return None
    resumed = await state.answering.resume(session.token_hash, *parsed)
    if resumed is None:
        return None
    if resumed.batches is None:
        return Response(status_code=204)  # EventSource stops reconnecting on 204
    return answer_stream(resumed.answer_id, resumed.batches, state, request, rendering)


def answer_stream(
    answer_id: str,
    batches: AsyncIterator[Batch],
    state: AppState,
    request: Request,
    rendering: Rendering,
) -> Response:
    headers, render = _rendered(answer_id, request, rendering)
    return event_stream(answer_id, batches, state.settings, headers, render)


def whole_answer_stream(
    answer_id: str,
    events: list[AnswerEvent],
    state: AppState,
    request: Request,
    rendering: Rendering,
) -> Response:
    """An answer made whole before it was sent (the extractive default's): one body."""
    headers, render = _rendered(answer_id, request, rendering)
    return whole_event_stream(answer_id, events, state.settings, headers, render)


def _rendered(
    answer_id: str, request: Request, rendering: Rendering
) -> tuple[dict[str, str], Render]:
    """The headers naming the answer and the rendering of its events."""
    headers = {ANSWER_ID_HEADER: answer_id}
    if rendering == "ai-sdk":
        render = ai_sdk_render(str(request.base_url))  # its sources link to their pages
        return {**headers, **HEADERS}, render
    return headers, ragsvc_frame


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/event-stream" not in accept


def json_answer(plan: AnswerPlan, done: DoneEvent) -> Response:
    """The whole answer as one JSON object (its tokens are in `answer`)."""
    answer = Answer(
        answer=done.answer,
        sources=plan.sources,
        citations=done.citations,
        quotes=done.quotes,
        found=done.found,
        pending=done.pending,
        timings=done.timings,
    )
    return Response(
        answer.model_dump_json(),
        media_type="application/json",
        headers={ANSWER_ID_HEADER: plan.answer_id},
    )


class AskParams(BaseModel):
    """GET /ask's query string (EventSource can send nothing else)."""

    q: str = Field(min_length=1, description="the question")
    top_k: int | None = Field(None, ge=1, le=50)
    document_ids: DocumentIds | None = Field(None, description="repeat to restrict")
    format: Rendering = Field(
        "ragsvc", description="`ai-sdk`: the Vercel AI SDK's UI message stream protocol"
    )


RenderingQuery = Annotated[
    Rendering,
    Query(
        alias="format",
        description="`ai-sdk`: the stream in the Vercel AI SDK's UI message stream protocol",
    ),
]


# response_class: FastAPI would otherwise declare a JSON 200 too (its default class's).
@router.post(
    "/ask",
    response_class=Response,
    responses=ASK_RESPONSES,
    summary="Ask; the answer streams as SSE",
)
async def ask(
    body: AskBody,
    request: Request,
    session: SessionDep,
    state: StateDep,
    rendering: RenderingQuery = "ragsvc",
) -> Response:
    return await respond(request, session, state, body, rendering)


@router.get(
    "/ask",
    response_class=Response,
    responses=ASK_RESPONSES,
    summary="Ask for EventSource clients (cookie auth)",
)
async def ask_get(
    params: Annotated[AskParams, Query()], request: Request, session: SessionDep, state: StateDep
) -> Response:
    body = AskRequest(question=params.q, top_k=params.top_k, document_ids=params.document_ids)
    return await respond(request, session, state, body, params.format)


@router.post(
    "/answers",
    response_model=Answer,
    responses=ANSWERS_RESPONSES,
    summary="Ask; the whole answer as one JSON object, once it is complete",
)
async def answer(body: AskRequest, session: SessionDep, state: StateDep) -> Response:
    """For clients that want no stream (generated ones): what `/ask`'s `done` event and its
    `sources` say, in one object."""
    plan, done = await state.answering.whole(session.token_hash, body)
    return json_answer(plan, done)
