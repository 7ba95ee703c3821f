"""The SSE frames of ragsvc's two streams: an answer (`/ask`) and a document's ingestion
(`/documents/{id}/events`). `streams/event_codec.py` writes them. As models, `data` is the
string of JSON the wire carries (tests validate sent frames with STREAMS); in the OpenAPI
document (`frame_schemas()`), `data` is that JSON parsed, its payload schema linked, so that
generators type a frame's payload (openapi-typescript types a JSON string as `string`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, Json, TypeAdapter

from ragsvc.core.schemas import Document, Problem, Quote, Source, Timings, Usage

FRAME_ID = "`<answer_id or document_id>:<seq>`: send it back as `Last-Event-ID` to resume"


class _Frame(BaseModel):
    id: str = Field(description=FRAME_ID)
    retry: int | None = Field(None, description="reconnection delay (ms), on the first frame")


class SourcesData(BaseModel):
    sources: list[Source]


class SourcesFrame(_Frame):
    """First: the passages the answer draws on, numbered for its [n] markers."""

    event: Literal["sources"]
    data: Json[SourcesData]


class TokenData(BaseModel):
    text: str


class TokenFrame(_Frame):
    """One or more: a piece of the answer; joined, they are the answer."""

    event: Literal["token"]
    data: Json[TokenData]


class DoneData(BaseModel):
    answer: str = Field(description="every token's text joined")
    citations: list[int] = Field(description="source numbers cited, in order of first use")
    quotes: list[Quote] = Field(description="what each [n] rests on, one per marker, in order")
    pending: list[str] = Field(
        description="documents asked about that are still being ingested: only their pages"
        " indexed so far were searched",
    )
    found: bool = Field(
        description="false when the answer says the documents do not hold what was asked "
        "(the closest passages are still its sources)"
    )
    timings: Timings
    usage: Usage | None = Field(None, description="when the generator's backend counts tokens")


class DoneFrame(_Frame):
    """Last, on success."""

    event: Literal["done"]
    data: Json[DoneData]


class ErrorFrame(_Frame):
    """Last, on failure once the stream started: the problem, as a 4xx/5xx body would be."""

    event: Literal["error"]
    data: Json[Problem]


class PageData(BaseModel):
    page: int = Field(description="pages extracted so far")
    pages: int


class PageFrame(_Frame):
    """Pages extracted so far (one at a time, or a range at once)."""

    event: Literal["page"]
    data: Json[PageData]


class ChunksData(BaseModel):
    embedded: int
    chunks: int


class ChunksFrame(_Frame):
    """Chunks embedded so far."""

    event: Literal["chunks"]
    data: Json[ChunksData]


class SettledFrame(_Frame):
    """Last: the document as it ended, its status as the event's name."""

    event: Literal["ready", "no_text", "failed"]
    data: Json[Document]


class DeletedData(BaseModel):
    id: str = Field(description="the document's id")
    detail: str


class DeletedFrame(_Frame):
    """Last, instead of the above: the document was deleted while it was being ingested."""

    event: Literal["deleted"]
    data: Json[DeletedData]


class AiSdkFrame(BaseModel):
    """With `format=ai-sdk`: a chunk of the Vercel AI SDK's UI message stream protocol (v1)
    as JSON, or `[DONE]` last (docs/clients.md)."""

    id: str | None = Field(None, description=FRAME_ID)
    retry: int | None = None
    data: str


AnswerStreamFrame = Annotated[
    SourcesFrame | TokenFrame | DoneFrame | ErrorFrame, Field(discriminator="event")
]
IngestStreamFrame = Annotated[
    PageFrame | ChunksFrame | SettledFrame | DeletedFrame, Field(discriminator="event")
]
STREAMS: dict[str, TypeAdapter[object]] = {
    "AnswerStreamFrame": TypeAdapter(AnswerStreamFrame),
    "IngestStreamFrame": TypeAdapter(IngestStreamFrame),
    "AiSdkFrame": TypeAdapter(AiSdkFrame),
}


def frame_schemas(ref_template: str) -> dict[str, dict[str, object]]:
    """The streams' schemas for the OpenAPI document, `data` parsed: each stream a `oneOf`
    of its frames discriminated by `event`, the payloads in `$defs`."""
    return {
        name: adapter.json_schema(mode="serialization", ref_template=ref_template)
        for name, adapter in STREAMS.items()
    }


# A client that reads the body whole, as a generated one does, gets the frames as text: the
# last alternative, without which openapi-python-client's parse of the body fails.
STREAM_TEXT = {
    "type": "string",
    "title": "EventStreamText",
    "description": "the whole stream as text, to a client that reads the body at once",
}


def stream_content(*names: str) -> dict[str, object]:
    """The `text/event-stream` content of a response whose frames are one of `names`'s: the
    schema describes one event, its `data` parsed as JSON (or the stream read whole)."""
    refs: list[dict[str, object]] = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    return {"text/event-stream": {"schema": {"anyOf": [*refs, STREAM_TEXT]}}}
