"""OpenAI-compatible chat: any OpenAI SDK pointed at ragsvc (`base_url=.../v1`, api key = the
session token) gets answers from the session's documents.

The last user message is the question; earlier user/assistant messages are the conversation
(they replace the session's stored turns for this request). Sources come in an extra
`sources` field: on the first chunk when streaming, on the completion otherwise.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ragsvc.answer.plan import AnswerPlan
from ragsvc.api.deps import SessionDep, StateDep
from ragsvc.api.openai_frames import chunks, completion, sources_header, usage_of
from ragsvc.api.openai_schemas import ModelList
from ragsvc.api.problems import header, problem_responses
from ragsvc.api.sse import ANSWER_ID_HEADER, sse_response
from ragsvc.core.clock import now
from ragsvc.core.errors import InvalidInput, Unsupported
from ragsvc.core.schemas import AskRequest, DocumentIds, Turn

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
REF = "#/components/schemas/{model}"
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


@router.get("/models", response_model=ModelList, summary="The one model ragsvc serves")
async def models(_: SessionDep) -> dict[str, Any]:
    created = int(time.time())
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": created, "owned_by": "ragsvc"}],
    }


@router.post(
    "/chat/completions",
    response_class=Response,  # its 200's two contents are declared below
    summary="OpenAI-compatible chat over the session's documents",
    responses={
        200: {
            "description": "chat.completion, or with stream=true `chat.completion.chunk` "
            "events (the schema is one event's `data`), the last one `data: [DONE]`; extra "
            "fields `sources`, `citations` and `found`",
            "headers": {
                ANSWER_ID_HEADER: header("the answer's id"),
                SOURCES_HEADER: header(
                    "the sources in brief, `[{n, document_id, filename, page}]`, as ASCII JSON"
                ),
            },
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model="ChatCompletion")}},
                "text/event-stream": {
                    "schema": {
                        "oneOf": [
                            {"$ref": REF.format(model="ChatCompletionChunk")},
                            {"$ref": REF.format(model="ChatCompletionErrorChunk")},
                        ]
                    }
                },
            },
        },
        **problem_responses(404, 409, 422, 503, 507),
    },
)
async def chat_completions(body: ChatRequest, session: SessionDep, state: StateDep) -> Response:
    if body.n != 1:
        raise Unsupported(f"n={body.n}: ragsvc gives one answer per question (n=1)")
    question, turns = split_conversation(body.messages)
    request = AskRequest(question=question, top_k=body.top_k, document_ids=body.document_ids)
    if not body.stream:
        plan, done = await state.answering.whole(session.token_hash, request, history=turns)
        usage = await usage_of(plan, done)
        completed = completion(plan, done, body.model, usage)
        return JSONResponse(completed, headers=_headers(plan))
    # Generated in the background like every answer, so it counts against the limits.
    started = await state.answering.stream(session.token_hash, request, history=turns)
    counted = body.stream_options is not None and body.stream_options.include_usage
    events = chunks(started.plan, started.batches, body.model, counted)
    return sse_response(events, state.settings, _headers(started.plan))


def _headers(plan: AnswerPlan) -> dict[str, str]:
    return {ANSWER_ID_HEADER: plan.answer_id, SOURCES_HEADER: sources_header(plan)}
