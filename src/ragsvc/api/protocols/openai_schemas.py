"""The shapes of `/v1`'s answers for the OpenAPI document: OpenAI's chat completion, its
stream's chunks and the model list, with ragsvc's extra fields. `openai_frames.py` builds
them as dicts (they are written once per token); a test checks what it sends against these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragsvc.core.schemas import Source, Usage

FinishReason = Literal["stop"]


class _Envelope(BaseModel):
    id: str = Field(description="`chatcmpl-<answer_id>`")
    created: int = Field(description="Unix time, seconds")
    model: str = Field(description="the request's `model`, echoed")


class UrlCitationSpan(BaseModel):
    """OpenAI's `url_citation`: where an [n] marker stands in the answer and the cited page's
    preview, with ragsvc's extras (api/protocols/citation_links.py)."""

    start_index: int = Field(description="the marker's first character in the answer")
    end_index: int
    url: str = Field(description="GET /documents/{document_id}/pages/{page}")
    title: str = Field(description="`[n] file.pdf, page p`")
    n: int = Field(description="ragsvc extra: the source, as in [n]")
    document_id: str = Field(description="ragsvc extra")
    filename: str = Field(description="ragsvc extra")
    page: int = Field(description="ragsvc extra: 1-based")
    quote: str | None = Field(None, description="ragsvc extra: the passage the [n] rests on")
    verified: bool | None = Field(None, description="ragsvc extra: the quote was found verbatim")


class UrlCitation(BaseModel):
    type: Literal["url_citation"]
    url_citation: UrlCitationSpan


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str
    annotations: list[UrlCitation] = Field(description="each [n] of the answer, as a link")


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
    annotations: list[UrlCitation] | None = Field(
        None, description="on the last chunk with a choice: each [n] of the answer, as a link"
    )


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


class OutputCitation(UrlCitationSpan):
    """The Responses API's `url_citation`: the same fields, flat."""

    type: Literal["url_citation"]


class OutputText(BaseModel):
    type: Literal["output_text"]
    text: str
    annotations: list[OutputCitation] = Field(description="each [n] of the answer, as a link")
    logprobs: list[Any]


class OutputMessage(BaseModel):
    type: Literal["message"]
    id: str
    role: Literal["assistant"]
    status: Literal["in_progress", "completed"]
    content: list[OutputText]


class ResponseError(BaseModel):
    code: str = Field(description="the problem type's last part")
    message: str


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens: int
    output_tokens_details: dict[str, int]
    total_tokens: int


class ResponseObject(BaseModel):
    """OpenAI's `response` (`/v1/responses`), with ragsvc's extras `sources`, `citations`,
    `found`; `metadata.ragsvc_sources` holds the sources in brief as JSON."""

    id: str = Field(description="`resp_<answer_id>`")
    object: Literal["response"]
    created_at: int
    model: str
    status: Literal["in_progress", "completed", "failed"]
    error: ResponseError | None
    incomplete_details: None
    output: list[OutputMessage]
    parallel_tool_calls: bool
    tool_choice: Literal["none"]
    tools: list[Any]
    metadata: dict[str, str]
    sources: list[Source] = Field(description="ragsvc extra: the passages the answer draws on")
    citations: list[int] | None = Field(None, description="ragsvc extra, once completed")
    found: bool | None = Field(None, description="ragsvc extra, once completed")
    usage: ResponseUsage | None = Field(None, description="once completed")


class ResponseStreamEvent(BaseModel):
    """One event of `/v1/responses`' stream (`response.created`, `.output_text.delta`,
    `.output_text.annotation.added`, `.completed`, `.failed`, ...): OpenAI's shapes."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="also the SSE `event:`")
    sequence_number: int


OPENAI_SCHEMAS: tuple[type[BaseModel], ...] = (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionErrorChunk,
    ResponseObject,
    ResponseStreamEvent,
)
