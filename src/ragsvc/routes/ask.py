"""Asking: SSE by default (POST for fetch clients, GET for EventSource), JSON on request.

A request carrying `Last-Event-ID: <answer_id>:<seq>` resumes that answer instead of
asking again, as long as the answer is kept (RAGSVC_RESUME_WINDOW_S).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ragsvc.answering import AnswerPlan, answer_events, answer_work, plan_answer
from ragsvc.backends import Backends
from ragsvc.config import Settings
from ragsvc.deps import (
    AnswersDep,
    BackendsDep,
    CurrentSession,
    LimiterDep,
    SessionDep,
    SettingsDep,
)
from ragsvc.errors import ProblemRaised, problem, problem_responses
from ragsvc.eventlog import LogHub
from ragsvc.events import AnswerEvent, DoneEvent, FailedEvent
from ragsvc.ratelimit import RateLimiter
from ragsvc.schemas import Answer, AskRequest
from ragsvc.sse import parse_event_id, stream_response

router = APIRouter(tags=["ask"])

EVENT_STREAM_DOC = (
    "Server-Sent Events: `sources`, then `token`s, then `done` or `error` (problem+json). "
    "Each event id is `<answer_id>:<seq>`; the `X-Answer-Id` header names the answer. "
    "Reconnecting with `Last-Event-ID` resumes the answer after that event; `204` when "
    "nothing follows it."
)
ASK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": EVENT_STREAM_DOC + " With `Accept: application/json`, one Answer.",
        "content": {
            "text/event-stream": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}},
        },
    },
    204: {"description": "resumed after the answer's last event: nothing more to send"},
    **problem_responses(404, 409, 422, 503),
}


@dataclass
class Asker:
    """What answering needs, resolved once by FastAPI for both routes."""

    request: Request
    session: CurrentSession
    settings: Settings
    backends: Backends
    limiter: RateLimiter
    answers: LogHub[AnswerEvent]

    async def respond(self, body: AskRequest) -> Response:
        resumed = self.resume()
        if resumed is not None:
            return resumed
        await self.limiter.check(
            "asking", self.session.token_hash, self.settings.ask_rate_per_minute
        )
        plan = await plan_answer(self.backends, self.settings, self.session.token_hash, body)
        events = answer_events(plan, self.backends, self.settings)
        if wants_json(self.request):
            return await json_answer(plan, events)
        entry = self.answers.start(plan.answer_id, self.session.token_hash, answer_work(events))
        return stream_response(plan.answer_id, self.answers.follow(entry, -1), self.settings)

    def resume(self) -> Response | None:
        """The rest of a kept answer named by Last-Event-ID; None to answer afresh."""
        header = self.request.headers.get("last-event-id")
        parsed = parse_event_id(header) if header else None
        if parsed is None or wants_json(self.request):
            return None
        answer_id, seq = parsed
        entry = self.answers.find(answer_id, self.session.token_hash)
        if entry is None:
            return None
        if entry.finished and seq >= len(entry.events) - 1:
            return Response(status_code=204)  # EventSource stops reconnecting on 204
        return stream_response(answer_id, self.answers.follow(entry, seq), self.settings)


async def asker(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    backends: BackendsDep,
    limiter: LimiterDep,
    answers: AnswersDep,
) -> Asker:
    """An async factory: FastAPI would build the dataclass itself in the thread pool."""
    return Asker(request, session, settings, backends, limiter, answers)


AskerDep = Annotated[Asker, Depends(asker)]


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/event-stream" not in accept


async def json_answer(plan: AnswerPlan, events: AsyncIterator[AnswerEvent]) -> Response:
    """Run the answer to its end and return it whole (tokens are in `done.answer`)."""
    async for event in events:
        if isinstance(event, FailedEvent):
            raise ProblemRaised(event.problem)
        if isinstance(event, DoneEvent):
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
async def ask(body: AskRequest, asker: AskerDep) -> Response:
    return await asker.respond(body)


@router.get("/ask", responses=ASK_RESPONSES, summary="Ask for EventSource clients (cookie auth)")
async def ask_get(
    q: Annotated[str, Query(min_length=1, description="the question")],
    asker: AskerDep,
    top_k: Annotated[int | None, Query(ge=1, le=50)] = None,
    document_ids: Annotated[list[str] | None, Query(description="repeat to restrict")] = None,
) -> Response:
    return await asker.respond(AskRequest(question=q, top_k=top_k, document_ids=document_ids))
