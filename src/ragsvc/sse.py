"""The SSE wire format: typed events -> frames with `<answer_id or document_id>:<seq>` ids."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from ragsvc.config import Settings
from ragsvc.events import (
    AnswerEvent,
    ChunksEmbedded,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    IngestEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)

log = logging.getLogger(__name__)
WRITE_BYTES = 64 * 1024  # most a batch of frames puts into one write


def event_name_and_data(event: AnswerEvent | IngestEvent) -> tuple[str, dict[str, Any]]:
    match event:
        case SourcesEvent(sources):
            return "sources", {"sources": [s.model_dump() for s in sources]}
        case TokenEvent(text):
            return "token", {"text": text}
        case DoneEvent(answer, cited, timings):
            return "done", {"answer": answer, "citations": cited, "timings": timings.model_dump()}
        case FailedEvent(problem):
            return "error", problem
        case PageParsed(page, pages):
            return "page", {"page": page, "pages": pages}
        case ChunksEmbedded(embedded, chunks):
            return "chunks", {"embedded": embedded, "chunks": chunks}
        case DocumentSettled(document):
            return document.status, document.model_dump(mode="json")
    raise TypeError(f"not an answer event: {event!r}")  # pragma: no cover


Batch = list[tuple[int, AnswerEvent]] | list[tuple[int, IngestEvent]]


async def frames(
    answer_id: str, batches: AsyncIterator[Batch], retry_ms: int
) -> AsyncIterator[bytes]:
    """Number each event `<answer_id>:<seq>`; the first frame carries the `retry:` hint.
    A batch goes out in one write (a burst of tokens costs one send, not one per token),
    split at WRITE_BYTES so the send timeout still sees a client that stopped reading."""
    retry: int | None = retry_ms
    async for batch in batches:
        pending: list[bytes] = []
        size = 0
        for seq, event in batch:
            name, data = event_name_and_data(event)
            frame = ServerSentEvent(
                data=json.dumps(data, ensure_ascii=False),
                event=name,
                id=f"{answer_id}:{seq}",
                retry=retry,
            ).encode()
            retry = None
            pending.append(frame)
            size += len(frame)
            if size >= WRITE_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


class QuietSendTimeout(EventSourceResponse):
    """A client that stopped reading is routine: end its stream with a log line, not a
    traceback (the connection closes; its answer stays resumable)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.info("closed a stream whose client stopped reading: %s", scope.get("path"))


def stream_response(
    answer_id: str,
    batches: AsyncIterator[Batch],
    settings: Settings,
) -> EventSourceResponse:
    """Heartbeat comments keep proxies from closing idle streams; the send timeout frees
    a stream whose client stopped reading; the headers stop proxies from buffering."""
    return QuietSendTimeout(
        frames(answer_id, batches, settings.sse_retry_ms),
        ping=settings.heartbeat_s,
        send_timeout=settings.send_timeout_s,
        headers={
            "X-Answer-Id": answer_id,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )


def parse_event_id(value: str) -> tuple[str, int] | None:
    """`<answer_id>:<seq>` -> (answer_id, seq); None for anything else."""
    answer_id, _, seq = value.strip().rpartition(":")
    return (answer_id, int(seq)) if answer_id and seq.isdigit() else None
