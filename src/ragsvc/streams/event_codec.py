"""Typed events <-> (`event:` name, one line of JSON): what an SSE frame carries, and what a
shared event log (Redis) keeps so another replica can stream it again.

An event is serialised once: its encoding is kept on the event, so every connection that
frames it and the Redis copy reuse the same text, and an event read back from Redis carries
the text it was read from. Events are frozen and never changed once made, so that text
cannot go stale."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
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
_ENCODED = "_encoded"  # the attribute an event keeps its encoding in


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
    breaks), made on the first call and kept on the event for the next ones."""
    encoded: tuple[str, str] | None = event.__dict__.get(_ENCODED)
    if encoded is None:
        encoded = _encode(event)
        object.__setattr__(event, _ENCODED, encoded)  # frozen: its fields, not this memo
    return encoded


def _encode(event: Event) -> tuple[str, str]:
    if isinstance(event, TokenEvent):  # most events by far: its JSON without a dict, and
        # the C string encoder json.dumps ends in, without its encoder made per call
        return "token", '{"text": ' + encode_basestring(event.text) + "}"
    name, data = event_name_and_data(event)
    return name, json.dumps(data, ensure_ascii=False)


def decode_event(name: str, text: str) -> Event:
    """The event `encode_event` gave (`name`, `text`) for, keeping that encoding."""
    event = _DECODERS.get(name, _settled)(json.loads(text))
    object.__setattr__(event, _ENCODED, (name, text))
    return event


def encode_events(events: Iterable[Event]) -> str:
    """Several events as one text: name and JSON on a line each (neither holds a line
    break), what one Redis entry keeps of a batch."""
    return "\n".join([line for event in events for line in encode_event(event)])


def decode_events(text: str) -> list[Event]:
    """The events `encode_events` gave `text` for."""
    if not text:
        return []
    lines = text.split("\n")
    return [decode_event(name, data) for name, data in zip(lines[::2], lines[1::2], strict=True)]


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
