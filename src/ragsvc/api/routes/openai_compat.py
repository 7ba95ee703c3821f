"""OpenAI-compatible chat: any OpenAI SDK pointed at ragsvc (`base_url=.../v1`, api key = the
session token) gets answers from the session's documents.

The last user message is the question; earlier user/assistant messages are the conversation
(they replace the session's stored turns for this request). Sources come in an extra
`sources` field: on the first chunk when streaming, on the completion otherwise; each [n] of
the answer is a `url_citation` annotation linking to its page. The same through the
Responses API (`/v1/responses`), whose annotations LangChain's ChatOpenAI keeps.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ragsvc.answer.plan import AnswerPlan
from ragsvc.api.deps import SessionDep, StateDep
from ragsvc.api.problems import header, problem_responses
from ragsvc.api.protocols.conversation import turns_of
from ragsvc.api.protocols.openai_frames import chunks, completion, sources_header, usage_of
from ragsvc.api.protocols.openai_responses import Responding, events
from ragsvc.api.protocols.openai_schemas import ModelList
from ragsvc.api.sse import ANSWER_ID_HEADER, sse_response
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


class InputItem(BaseModel):
    """An item of a Responses API `input`: messages are read, other items ignored."""

    model_config = ConfigDict(extra="allow")
    type: str = "message"
    role: Literal["system", "developer", "user", "assistant"] | None = None
    content: str | list[dict[str, Any]] | None = None

    def as_message(self) -> ChatMessage | None:
        if self.type != "message" or self.role is None:
            return None
        if isinstance(self.content, list):  # input_text, output_text parts
            text = " ".join(str(p["text"]) for p in self.content if "text" in p)
            return ChatMessage(role=self.role, content=text)
        return ChatMessage(role=self.role, content=self.content)


class ResponsesRequest(BaseModel):
    """OpenAI's Responses API request; tools and sampling parameters are accepted and
    ignored. No `previous_response_id`: send the conversation in `input`."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL
    input: str | list[InputItem]
    instructions: str | None = None
    stream: bool = False
    previous_response_id: None = Field(None, description="not kept: send the conversation")
    top_k: int | None = Field(None, ge=1, le=50, strict=True, description="ragsvc extra")
    document_ids: DocumentIds | None = Field(None, description="ragsvc extra")

    def messages(self) -> list[ChatMessage]:
        if isinstance(self.input, str):
            return [ChatMessage(role="user", content=self.input)]
        messages = [m for item in self.input if (m := item.as_message()) is not None]
        if not messages:
            raise InvalidInput("the input has no message")
        return messages


def split_conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The last user message, and the user/assistant pairs before it as turns."""
    if messages[-1].role != "user" or not messages[-1].text.strip():
        raise InvalidInput("the last message must be a non-empty user message")
    return messages[-1].text, turns_of(messages[:-1])


@router.get("/models", response_model=ModelList, summary="The one model ragsvc serves")
async def models(_: SessionDep) -> dict[str, Any]:
    created = int(time.time())
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": created, "owned_by": "ragsvc"}],
    }


# What `_headers` sends with every answer, whole or streamed.
ANSWER_HEADERS = {
    ANSWER_ID_HEADER: header("the answer's id"),
    SOURCES_HEADER: header(
        "the sources in brief, `[{n, document_id, filename, page}]`, as ASCII JSON"
    ),
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
            "headers": ANSWER_HEADERS,
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
async def chat_completions(
    body: ChatRequest, request: Request, session: SessionDep, state: StateDep
) -> Response:
    if body.n != 1:
        raise Unsupported(f"n={body.n}: ragsvc gives one answer per question (n=1)")
    question, turns = split_conversation(body.messages)
    asked = AskRequest(question=question, top_k=body.top_k, document_ids=body.document_ids)
    if not body.stream:
        plan, done = await state.answering.whole(session.token_hash, asked, history=turns)
        usage = await usage_of(plan, done)
        completed = completion(plan, done, body.model, usage, str(request.base_url))
        return JSONResponse(completed, headers=_headers(plan))
    # Started as /ask's answers are, so it counts against the same limits.
    started = await state.answering.stream(session.token_hash, asked, history=turns)
    counted = body.stream_options is not None and body.stream_options.include_usage
    events = chunks(started.plan, started.batches, body.model, counted, str(request.base_url))
    return sse_response(events, state.settings, _headers(started.plan))


def _headers(plan: AnswerPlan) -> dict[str, str]:
    return {ANSWER_ID_HEADER: plan.answer_id, SOURCES_HEADER: sources_header(plan)}


@router.post(
    "/responses",
    response_class=Response,  # its 200's two contents are declared below
    summary="OpenAI's Responses API over the session's documents",
    responses={
        200: {
            "description": "a `response` object, or with stream=true its events "
            "(`response.created` ... `response.completed`); the answer's [n] markers are "
            "`url_citation` annotations of its `output_text`; extra fields `sources`, "
            "`citations` and `found`",
            "headers": ANSWER_HEADERS,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model="ResponseObject")}},
                "text/event-stream": {"schema": {"$ref": REF.format(model="ResponseStreamEvent")}},
            },
        },
        **problem_responses(404, 409, 422, 503, 507),
    },
)
async def responses(
    body: ResponsesRequest, request: Request, session: SessionDep, state: StateDep
) -> Response:
    question, turns = split_conversation(body.messages())
    asked = AskRequest(question=question, top_k=body.top_k, document_ids=body.document_ids)
    base = str(request.base_url)  # the citations link to pages under it
    if not body.stream:
        plan, done = await state.answering.whole(session.token_hash, asked, history=turns)
        whole = await Responding(plan, body.model, base).completed(done)
        return JSONResponse(whole, headers=_headers(plan))
    started = await state.answering.stream(session.token_hash, asked, history=turns)
    responding = Responding(started.plan, body.model, base)
    return sse_response(events(responding, started.batches), state.settings, _headers(started.plan))
