"""An answer's events in the Vercel AI SDK's UI message stream protocol (v1), so a React
front-end can read ragsvc with `useChat` (docs/clients.md). The same events as ragsvc's own
stream, rendered as the SDK's chunks: `start`; per source a `source-url` (a link to the cited
page's preview) and a `source-document`, both with the document id, page and link in
`providerMetadata.ragsvc` (the SDK keeps no other field of a source part); the whole sources
as `data-sources`; the answer as `text-start` / `text-delta` / `text-end`, then `data-done`
(citations, quotes, found, timings, usage) and `finish`, or `error`; the stream ends with
`[DONE]`. Frames keep ragsvc's ids, so `Last-Event-ID` still resumes."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ragsvc.api.protocols.citation_links import page_url, source_title
from ragsvc.api.sse import Render
from ragsvc.core.schemas import Source
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent

HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}  # the SDK checks for it
TEXT_ID = "answer"  # the answer is one text block


def ai_sdk_render(base_url: str) -> Render:
    """The renderer of an answer's frames whose source links start with `base_url` (the
    service's, root path included, ending in "/")."""
    return partial(ai_sdk_frame, base_url=base_url)


def ai_sdk_frame(
    answer_id: str, seq: int, event: AnswerEvent, retry: int | None, base_url: str = "/"
) -> bytes:
    """The SSE frames of one answer event, each a UI message chunk."""
    chunks = _chunks(answer_id, event, base_url)
    head = f"id: {answer_id}:{seq}\r\n" + (f"retry: {retry}\r\n" if retry is not None else "")
    body = "".join(f"{head}data: {_json(chunk)}\r\n\r\n" for chunk in chunks)
    if isinstance(event, DoneEvent | FailedEvent):
        body += "data: [DONE]\r\n\r\n"
    return body.encode()


def _chunks(answer_id: str, event: AnswerEvent, base_url: str) -> list[dict[str, Any]]:
    match event:
        case SourcesEvent(sources):
            return _opening(answer_id, sources, base_url)
        case TokenEvent(text):
            return [{"type": "text-delta", "id": TEXT_ID, "delta": text}]
        case DoneEvent():
            return _closing(event)
        case FailedEvent(problem):
            return [{"type": "error", "errorText": problem.detail}]
    return []


def _closing(done: DoneEvent) -> list[dict[str, Any]]:
    """The end of the text, what `done` adds to it (citations, quotes, found, timings,
    usage), the end."""
    data = {
        "citations": done.citations,
        "quotes": [quote.model_dump() for quote in done.quotes],
        "found": done.found,
        "timings": done.timings.model_dump(),
    }
    if done.usage is not None:
        data["usage"] = done.usage.model_dump()
    end = {"type": "text-end", "id": TEXT_ID}
    return [end, {"type": "data-done", "data": data}, {"type": "finish"}]


def _opening(answer_id: str, sources: list[Source], base_url: str) -> list[dict[str, Any]]:
    """The message's start, its sources (each as a link and as a document, and all of them
    whole as `data-sources`: text, page, score), and the start of its text."""
    parts = [part for s in sources for part in _source_parts(answer_id, s, base_url)]
    whole = {"type": "data-sources", "data": [s.model_dump() for s in sources]}
    start = {"type": "start", "messageId": answer_id}
    return [start, *parts, whole, {"type": "text-start", "id": TEXT_ID}]


def _source_parts(answer_id: str, source: Source, base_url: str) -> list[dict[str, Any]]:
    """A source as the SDK's two kinds of source part: a UI lists links (`source-url`) or
    documents (`source-document`); the same sourceId names both."""
    url = page_url(base_url, source)
    common = {
        "sourceId": f"{answer_id}:{source.n}",
        "title": source_title(source),
        "providerMetadata": {
            "ragsvc": {
                "n": source.n,
                "documentId": source.document_id,
                "filename": source.filename,
                "page": source.page,
                "url": url,
            }
        },
    }
    document = {"mediaType": "application/pdf", "filename": source.filename}
    return [
        {"type": "source-url", "url": url, **common},
        {"type": "source-document", **common, **document},
    ]


def _json(chunk: dict[str, Any]) -> str:
    return json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
