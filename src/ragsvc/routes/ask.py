"""Asking: SSE by default (POST for fetch clients, GET for EventSource), JSON on request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ragsvc.deps import BackendsDep, LimiterDep, SessionDep, SettingsDep
from ragsvc.errors import ProblemRaised, problem, problem_responses
from ragsvc.events import DoneEvent, FailedEvent, TokenEvent
from ragsvc.pipeline import answer_events, plan_answer
from ragsvc.schemas import Answer, AskRequest
from ragsvc.sse import stream_response

router = APIRouter(tags=["ask"])

EVENT_STREAM_DOC = (
    "Server-Sent Events: `sources`, then `token`s, then `done` or `error` (problem+json). "
    "Each event id is `<answer_id>:<seq>`; the `X-Answer-Id` header names the answer."
)
ASK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": EVENT_STREAM_DOC + " With `Accept: application/json`, one Answer.",
        "content": {
            "text/event-stream": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}},
        },
    },
    **problem_responses(404, 409, 422, 503),
}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/event-stream" not in accept


async def _ask(
    request: Request,
    body: AskRequest,
    session: SessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    limiter: LimiterDep,
) -> Response:
    await limiter.check("asking", session.token_hash, settings.ask_rate_per_minute)
    plan = await plan_answer(backends, settings, session.token_hash, body)
    events = answer_events(plan, backends, settings)
    if not wants_json(request):
        return stream_response(plan.answer_id, events, settings)
    tokens: list[str] = []
    async for event in events:
        if isinstance(event, TokenEvent):
            tokens.append(event.text)
        elif isinstance(event, FailedEvent):
            raise ProblemRaised(event.problem)
        elif isinstance(event, DoneEvent):
            answer = Answer(
                answer=event.answer,
                sources=plan.sources,
                citations=event.citations,
                timings=event.timings,
            )
            return Response(
                answer.model_dump_json(),
                media_type="application/json",
                headers={"X-Answer-Id": plan.answer_id},
            )
    raise ProblemRaised(problem(500, "the answer ended without a result"))


@router.post("/ask", responses=ASK_RESPONSES, summary="Ask; the answer streams as SSE")
async def ask(
    request: Request,
    body: AskRequest,
    session: SessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    limiter: LimiterDep,
) -> Response:
    return await _ask(request, body, session, settings, backends, limiter)


@router.get("/ask", responses=ASK_RESPONSES, summary="Ask for EventSource clients (cookie auth)")
async def ask_get(
    request: Request,
    q: Annotated[str, Query(min_length=1, description="the question")],
    session: SessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    limiter: LimiterDep,
    top_k: Annotated[int | None, Query(ge=1, le=50)] = None,
    document_ids: Annotated[list[str] | None, Query(description="repeat to restrict")] = None,
) -> Response:
    body = AskRequest(question=q, top_k=top_k, document_ids=document_ids)
    return await _ask(request, body, session, settings, backends, limiter)
