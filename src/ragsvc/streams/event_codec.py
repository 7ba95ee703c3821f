"""Typed events <-> (`event:` name, one line of JSON): what an SSE frame carries, and what a
shared event log (Redis) keeps so another replica can stream it again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ragsvc.core.schemas import Document, Problem, Quote, Source, Timings, Usage
from ragsvc.streams.events import (
    AnswerEvent,
    ChunksEmbedded,
    DocumentDeleted,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    IngestEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)

Event = AnswerEvent | IngestEvent


def event_name_and_data(event: Event) -> tuple[str, dict[str, Any]]:
    """The `event:` name and the `data:` object of an event."""
    match event:
        case SourcesEvent(sources):
            return "sources", {"sources": [s.model_dump() for s in sources]}
        case TokenEvent(text):
            return "token", {"text": text}
        case DoneEvent(answer, cited, timings, usage, quotes, pending, found):
            data = {
                "answer": answer,
                "citations": cited,
                "quotes": [q.model_dump() for q in quotes],
                "pending": pending,
                "found": found,
                "timings": timings.model_dump(),
            }
            return "done", {**data, "usage": usage.model_dump()} if usage else data
        case FailedEvent(problem):
            return "error", problem.model_dump()
    return _ingest_name_and_data(event)


def _ingest_name_and_data(event: IngestEvent) -> tuple[str, dict[str, Any]]:
    match event:
        case PageParsed(page, pages):
            return "page", {"page": page, "pages": pages}
        case ChunksEmbedded(embedded, chunks):
            return "chunks", {"embedded": embedded, "chunks": chunks}
        case DocumentSettled(document):
            return document.status, document.model_dump(mode="json")
        case DocumentDeleted(document_id, detail):
            return "deleted", {"id": document_id, "detail": detail}
    raise TypeError(f"not an answer or ingest event: {event!r}")  # pragma: no cover


def encode_event(event: Event) -> tuple[str, str]:
    """The name and the JSON text of an event (`data` is one line: json.dumps escapes line
    breaks)."""
    if isinstance(event, TokenEvent):  # most events by far: its JSON without a dict
        return "token", '{"text": ' + json.dumps(event.text, ensure_ascii=False) + "}"
    name, data = event_name_and_data(event)
    return name, json.dumps(data, ensure_ascii=False)


def decode_event(name: str, text: str) -> Event:
    """The event `encode_event` gave (`name`, `text`) for."""
    return _DECODERS.get(name, _settled)(json.loads(text))


def _settled(data: dict[str, Any]) -> Event:  # named by the document's status
    return DocumentSettled(Document.model_validate(data))


_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "sources": lambda d: SourcesEvent([Source.model_validate(s) for s in d["sources"]]),
    "token": lambda d: TokenEvent(d["text"]),
    "done": lambda d: DoneEvent(
        d["answer"],
        d["citations"],
        Timings.model_validate(d["timings"]),
        Usage.model_validate(d["usage"]) if "usage" in d else None,
        [Quote.model_validate(q) for q in d.get("quotes", [])],
        d.get("pending", []),
        d.get("found", True),
    ),
    "error": lambda d: FailedEvent(Problem.model_validate(d)),
    "page": lambda d: PageParsed(d["page"], d["pages"]),
    "chunks": lambda d: ChunksEmbedded(d["embedded"], d["chunks"]),
    "deleted": lambda d: DocumentDeleted(d["id"], d["detail"]),
}
