"""The shapes of `/v1`'s answers for the OpenAPI document: OpenAI's chat completion, its
stream's chunks and the model list, with ragsvc's extra fields. `openai_frames.py` builds
them as dicts (they are written once per token); a test checks what it sends against these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ragsvc.core.schemas import Source, Usage

FinishReason = Literal["stop"]


class _Envelope(BaseModel):
    id: str = Field(description="`chatcmpl-<answer_id>`")
    created: int = Field(description="Unix time, seconds")
    model: str = Field(description="the request's `model`, echoed")


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class CompletionChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason


class ChatCompletion(_Envelope):
    """The whole answer (`stream` false), with ragsvc's extras `sources`, `citations`, `found`."""

    object: Literal["chat.completion"]
    choices: list[CompletionChoice]
    usage: Usage
    sources: list[Source] = Field(description="ragsvc extra: the passages the answer draws on")
    citations: list[int] = Field(description="ragsvc extra: source numbers cited, in order")
    found: bool = Field(description="ragsvc extra: false when the documents do not hold it")


class Delta(BaseModel):
    role: Literal["assistant"] | None = Field(None, description="on the first chunk")
    content: str | None = Field(None, description="a piece of the answer")


class ChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: FinishReason | None


class ChatCompletionChunk(_Envelope):
    """One `data:` line of the stream (`stream` true); `data: [DONE]` ends it. The first
    chunk carries `sources`, the last one with a choice `citations` and `found`; with
    `stream_options.include_usage`, a last chunk with no choices holds `usage`."""

    object: Literal["chat.completion.chunk"]
    choices: list[ChunkChoice] = Field(description="empty on the usage chunk")
    sources: list[Source] | None = Field(None, description="ragsvc extra, first chunk")
    citations: list[int] | None = Field(None, description="ragsvc extra, last chunk")
    found: bool | None = Field(None, description="ragsvc extra, last chunk")
    usage: Usage | None = Field(None, description="with stream_options.include_usage")


class ChunkError(BaseModel):
    """OpenAI's `message` and `type` (the problem's URN), and the problem's own members."""

    message: str
    type: str
    title: str
    status: int
    detail: str


class ChatCompletionErrorChunk(BaseModel):
    """A failure once the stream started: the last chunk, which OpenAI's clients raise."""

    error: ChunkError


class Model(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]


OPENAI_SCHEMAS: tuple[type[BaseModel], ...] = (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionErrorChunk,
)
