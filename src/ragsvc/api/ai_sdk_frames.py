"""An answer's events in the Vercel AI SDK's UI message stream protocol (v1), so a React
front-end can read ragsvc with `useChat` (docs/clients.md). The same events as ragsvc's own
stream, rendered as the SDK's chunks: `start`, a `source-document` per source and the whole
sources as `data-sources`, the answer as `text-start` / `text-delta` / `text-end`, then
`data-done` (citations, found, timings, usage) and `finish`, or `error`; the stream ends with
`[DONE]`. Frames keep ragsvc's ids, so `Last-Event-ID` still resumes."""

from __future__ import annotations

import json
from typing import Any

from ragsvc.core.schemas import Source
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent

HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}  # the SDK checks for it
TEXT_ID = "answer"  # the answer is one text block


def ai_sdk_frame(answer_id: str, seq: int, event: AnswerEvent, retry: int | None) -> bytes:
    """The SSE frames of one answer event, each a UI message chunk."""
    chunks = _chunks(answer_id, event)
    head = f"id: {answer_id}:{seq}\r\n" + (f"retry: {retry}\r\n" if retry is not None else "")
    body = "".join(f"{head}data: {_json(chunk)}\r\n\r\n" for chunk in chunks)
    if isinstance(event, DoneEvent | FailedEvent):
        body += "data: [DONE]\r\n\r\n"
    return body.encode()


def _chunks(answer_id: str, event: AnswerEvent) -> list[dict[str, Any]]:
    match event:
        case SourcesEvent(sources):
            return _opening(answer_id, sources)
        case TokenEvent(text):
            return [{"type": "text-delta", "id": TEXT_ID, "delta": text}]
        case DoneEvent():
            return _closing(event)
        case FailedEvent(problem):
            return [{"type": "error", "errorText": problem.detail}]
    return []


def _closing(done: DoneEvent) -> list[dict[str, Any]]:
    """The end of the text, what `done` adds to it (citations, found, timings, usage), the end."""
    data = {
        "citations": done.citations,
        "found": done.found,
        "timings": done.timings.model_dump(),
    }
    if done.usage is not None:
        data["usage"] = done.usage.model_dump()
    end = {"type": "text-end", "id": TEXT_ID}
    return [end, {"type": "data-done", "data": data}, {"type": "finish"}]


def _opening(answer_id: str, sources: list[Source]) -> list[dict[str, Any]]:
    """The message's start, its sources (each as a document, and all of them whole as
    `data-sources`: text, page, score), and the start of its text."""
    documents = [
        {
            "type": "source-document",
            "sourceId": f"{answer_id}:{s.n}",
            "mediaType": "application/pdf",
            "title": f"[{s.n}] {s.filename}, page {s.page}",
            "filename": s.filename,
        }
        for s in sources
    ]
    whole = {"type": "data-sources", "data": [s.model_dump() for s in sources]}
    start = {"type": "start", "messageId": answer_id}
    return [start, *documents, whole, {"type": "text-start", "id": TEXT_ID}]


def _json(chunk: dict[str, Any]) -> str:
    return json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
