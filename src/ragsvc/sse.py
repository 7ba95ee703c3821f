"""The SSE wire format: typed answer events -> frames with `<answer_id>:<seq>` ids."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from ragsvc.config import Settings
from ragsvc.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent


def event_name_and_data(event: AnswerEvent) -> tuple[str, dict[str, Any]]:
    match event:
        case SourcesEvent(sources):
            return "sources", {"sources": [s.model_dump() for s in sources]}
        case TokenEvent(text):
            return "token", {"text": text}
        case DoneEvent(answer, cited, timings):
            return "done", {"answer": answer, "citations": cited, "timings": timings.model_dump()}
        case FailedEvent(problem):
            return "error", problem
    raise TypeError(f"not an answer event: {event!r}")  # pragma: no cover


async def frames(
    answer_id: str, events: AsyncIterator[AnswerEvent]
) -> AsyncIterator[ServerSentEvent]:
    seq = 0
    async for event in events:
        name, data = event_name_and_data(event)
        yield ServerSentEvent(
            data=json.dumps(data, ensure_ascii=False), event=name, id=f"{answer_id}:{seq}"
        )
        seq += 1


def stream_response(
    answer_id: str, events: AsyncIterator[AnswerEvent], settings: Settings
) -> EventSourceResponse:
    """Heartbeat comments keep proxies from closing idle streams; the send timeout frees
    a stream whose client stopped reading; the headers stop proxies from buffering."""
    return EventSourceResponse(
        frames(answer_id, events),
        ping=settings.heartbeat_s,
        send_timeout=settings.send_timeout_s,
        headers={
            "X-Answer-Id": answer_id,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
