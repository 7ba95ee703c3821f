"""OpenAI-compatible chat: any OpenAI SDK pointed at ragsvc (`base_url=.../v1`, api key = the
session token) gets answers from the session's documents.

The last user message is the question; earlier user/assistant messages are the conversation
(they replace the session's stored turns for this request). Sources come in an extra
`sources` field: on the first chunk when streaming, on the completion otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import ServerSentEvent

from ragsvc.answer.answering import AnswerPlan, answer_work, final_answer
from ragsvc.answer.usage_count import counted_usage
from ragsvc.api.deps import SessionDep, StateDep
from ragsvc.api.problems import problem_responses
from ragsvc.api.routes.ask import log_question
from ragsvc.api.sse import ANSWER_ID_HEADER, AnswerBatch, sse_response
from ragsvc.core.clock import now
from ragsvc.core.errors import InvalidInput, Unsupported
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import AskRequest, DocumentIds, Turn
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, TokenEvent

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
SOURCES_HEADER = "X-Sources"  # the sources in brief, for clients that drop extra fields
MODEL = "ragsvc"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI's chat request; sampling parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, strict=True, description="1: ragsvc gives one answer per question")
    top_k: int | None = Field(None, ge=1, le=50, strict=True, description="ragsvc extra")
    document_ids: DocumentIds | None = Field(None, description="ragsvc extra")


def split_conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The last user message, and the user/assistant pairs before it as turns."""
    if messages[-1].role != "user" or not messages[-1].text.strip():
        raise InvalidInput("the last message must be a non-empty user message")
    turns: list[Turn] = []
    pending: str | None = None
    for message in messages[:-1]:
        if message.role == "user":
            pending = message.text
        elif message.role == "assistant" and pending is not None:
            turns.append(Turn(question=pending, answer=message.text, at=now()))
            pending = None
    return messages[-1].text, turns


@router.get("/models", summary="The one model ragsvc serves")
async def models(_: SessionDep) -> dict[str, Any]:
    created = int(time.time())
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": created, "owned_by": "ragsvc"}],
    }


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat over the session's documents",
    responses={
        200: {
            "description": "chat.completion, or with stream=true `chat.completion.chunk` "
            "events ending in `data: [DONE]`; extra field `sources`",
            "content": {"text/event-stream": {}},  # events: see the description
        },
        **problem_responses(404, 409, 422, 503, 507),
    },
)
async def chat_completions(body: ChatRequest, session: SessionDep, state: StateDep) -> Response:
    if body.n != 1:
        raise Unsupported(f"n={body.n}: ragsvc gives one answer per question (n=1)")
    await state.limiter.check("asking", session.token_hash, state.settings.ask_rate_per_minute)
    question, turns = split_conversation(body.messages)
    log_question(state, question)
    request = AskRequest(question=question, top_k=body.top_k, document_ids=body.document_ids)
    async with state.answers.reserve(session.token_hash) as room:
        plan = await state.answering.plan(session.token_hash, request, history=turns)
        events = state.answering.events(plan)
        headers = {ANSWER_ID_HEADER: plan.answer_id, SOURCES_HEADER: sources_header(plan)}
        if not body.stream:
            done = await final_answer(events)
            state.metrics.observe_answer(done)
            usage = await usage_of(plan, done)
            return JSONResponse(completion(plan, done, body.model, usage), headers=headers)
        # Generated in the background like every answer, so it counts against the limits.
        entry = room.start(plan.answer_id, answer_work(events))
    batches = state.answers.follow(entry, -1)
    counted = body.stream_options is not None and body.stream_options.include_usage
    return sse_response(chunks(plan, batches, body.model, counted), state.settings, headers)


def sources_header(plan: AnswerPlan) -> str:
    """The sources in brief, as JSON in plain ASCII: clients that keep response headers but
    no extra body fields (LangChain with `include_response_headers=True`) still get them."""
    brief = [
        {"n": s.n, "document_id": s.document_id, "filename": s.filename, "page": s.page}
        for s in plan.sources
    ]
    return json.dumps(brief, separators=(",", ":"))


async def usage_of(plan: AnswerPlan, done: DoneEvent) -> dict[str, int]:
    """The backend's token counts, else counted here (the extractive generator), in a
    worker thread: a prompt of five sources takes milliseconds to tokenize."""
    if done.usage is not None:
        return done.usage.model_dump()
    texts = [message["content"] for message in plan.prompt.messages]
    return (await run_quick(counted_usage, texts, done.answer)).model_dump()


def _envelope(plan: AnswerPlan, model: str, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{plan.answer_id}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def completion(
    plan: AnswerPlan, done: DoneEvent, model: str, usage: dict[str, int]
) -> dict[str, Any]:
    message = {"role": "assistant", "content": done.answer}
    return {
        **_envelope(plan, model, "chat.completion"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
        "sources": [s.model_dump() for s in plan.sources],
        "citations": done.citations,
    }


async def chunks(
    plan: AnswerPlan, batches: AsyncIterator[AnswerBatch], model: str, counted: bool
) -> AsyncIterator[ServerSentEvent]:
    """OpenAI's streaming format: `data: <chunk>` lines, then `data: [DONE]`; `counted`
    (stream_options.include_usage): a chunk with the usage and no choices before it."""
    sources = [s.model_dump() for s in plan.sources]
    yield _chunk(plan, model, {"role": "assistant", "content": ""}, sources=sources)
    async for batch in batches:
        for _, event in batch:
            counts = (
                await usage_of(plan, event) if counted and isinstance(event, DoneEvent) else None
            )
            for chunk in _chunks_of(plan, model, event, counts):
                yield chunk
            if isinstance(event, FailedEvent):
                return
    yield ServerSentEvent(data="[DONE]")


def _chunks_of(
    plan: AnswerPlan, model: str, event: AnswerEvent, usage: dict[str, int] | None
) -> list[ServerSentEvent]:
    """The chunks carrying an answer event; none for the sources (the first chunk has them).
    With `usage` (asked for), the answer's last chunk is one holding it and no choices."""
    if isinstance(event, TokenEvent):
        return [_chunk(plan, model, {"content": event.text})]
    if isinstance(event, DoneEvent):
        done = [_chunk(plan, model, {}, "stop", citations=event.citations)]
        if usage is None:
            return done
        counts = {**_envelope(plan, model, "chat.completion.chunk"), "choices": [], "usage": usage}
        return [*done, ServerSentEvent(data=json.dumps(counts))]
    if isinstance(event, FailedEvent):
        # OpenAI's clients raise on a chunk carrying "error"; the problem goes along.
        problem = event.problem.model_dump()
        error = {"message": problem["detail"], "type": problem["type"], **problem}
        return [ServerSentEvent(data=json.dumps({"error": error}))]
    return []


def _chunk(
    plan: AnswerPlan, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> ServerSentEvent:
    body = {
        **_envelope(plan, model, "chat.completion.chunk"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))
