"""The SSE wire format, and the one builder of streaming responses.

Typed events become frames with `<answer_id or document_id>:<seq>` ids; every stream, ours
or the OpenAI-compatible one, leaves through `sse_response` with the same heartbeats, send
timeout and anti-buffering headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus, SendTimeoutError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ragsvc.core.config import Settings
from ragsvc.streams.event_codec import encode_event
from ragsvc.streams.events import AnswerEvent, IngestEvent

log = logging.getLogger(__name__)
# sse-starlette cancels every stream the moment uvicorn is told to exit, cutting answers in
# flight mid-body; ragsvc drains instead (runtime/draining.py) and ends its streams itself.
AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]
WRITE_BYTES = 64 * 1024  # most a batch of frames puts into one write
ANSWER_ID_HEADER = "X-Answer-Id"  # names the answer a stream (or a JSON answer) belongs to
DOCUMENT_ID_HEADER = "X-Document-Id"  # names the document whose ingestion a stream follows
MAX_SEQ_DIGITS = 18  # a sequence number in an event id fits in 64 bits
# Proxies must neither cache nor buffer a stream (nginx reads X-Accel-Buffering).
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

AnswerBatch = list[tuple[int, AnswerEvent]]  # numbered events, as a follower gets them
Batch = AnswerBatch | list[tuple[int, IngestEvent]]
# How one event is written: (stream id, seq, event, retry hint or None) -> its frame(s).
Render = Callable[[str, int, Any, int | None], bytes]


def ragsvc_frame(
    stream_id: str, seq: int, event: AnswerEvent | IngestEvent, retry: int | None
) -> bytes:
    """ragsvc's own rendering: the event's name and JSON (api.md)."""
    return encode_frame(*encode_event(event), stream_id, seq, retry)


async def frames(
    stream_id: str, batches: AsyncIterator[Batch], retry_ms: int, render: Render = ragsvc_frame
) -> AsyncIterator[bytes]:
    """Number each event `<stream_id>:<seq>`; the first frame carries the `retry:` hint.
    A batch goes out in one write (a burst of tokens costs one send, not one per token),
    split at WRITE_BYTES so the send timeout still sees a client that stopped reading."""
    retry: int | None = retry_ms
    async for batch in batches:
        pending: list[bytes] = []
        size = 0
        for seq, event in batch:
            frame = render(stream_id, seq, event, retry)
            retry = None
            pending.append(frame)
            size += len(frame)
            if size >= WRITE_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


def encode_frame(name: str, data: str, stream_id: str, seq: int, retry: int | None) -> bytes:
    """One frame, as sse-starlette's ServerSentEvent writes it, at a fraction of its cost
    (one per token): `data` is one line of JSON, json.dumps escapes line breaks."""
    hint = f"retry: {retry}\r\n" if retry is not None else ""
    return f"id: {stream_id}:{seq}\r\nevent: {name}\r\ndata: {data}\r\n{hint}\r\n".encode()


class QuietSendTimeout(EventSourceResponse):
    """A client that stopped reading is routine: end its stream with a log line, not a
    traceback (the connection closes; its answer stays resumable)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.info("closed a stream whose client stopped reading: %s", scope.get("path"))


def sse_response(
    content: AsyncIterator[bytes] | AsyncIterator[ServerSentEvent],
    settings: Settings,
    headers: dict[str, str],
) -> EventSourceResponse:
    """Heartbeat comments keep proxies from closing idle streams; the send timeout frees
    a stream whose client stopped reading; the headers stop proxies from buffering."""
    return QuietSendTimeout(
        content,
        ping=settings.heartbeat_s,
        send_timeout=settings.send_timeout_s,
        headers={**headers, **STREAM_HEADERS},
    )


def event_stream(
    stream_id: str,
    batches: AsyncIterator[Batch],
    settings: Settings,
    headers: dict[str, str],
    render: Render = ragsvc_frame,
) -> EventSourceResponse:
    """A stream of numbered events (an answer's, or a document's ingestion), with
    `headers` (the one naming it, X-Answer-Id or X-Document-Id, and any a rendering adds)."""
    frames_ = frames(stream_id, batches, settings.sse_retry_ms, render)
    return sse_response(frames_, settings, headers)


def whole_event_stream(
    stream_id: str,
    events: list[AnswerEvent],
    settings: Settings,
    headers: dict[str, str],
    render: Render = ragsvc_frame,
) -> Response:
    """The stream of an answer whose events are all made already, as one body of known
    length: the frames `event_stream` would write, without a stream kept open (no tasks,
    no heartbeat, and no closing chunk written on its own)."""
    retry = settings.sse_retry_ms
    body = b"".join(
        render(stream_id, seq, event, None if seq else retry) for seq, event in enumerate(events)
    )
    return Response(body, media_type="text/event-stream", headers={**headers, **STREAM_HEADERS})


def parse_event_id(value: str) -> tuple[str, int] | None:
    """`<stream_id>:<seq>` -> (stream_id, seq); None for anything else, such as digits that
    are not ASCII ("²" is a digit to `str.isdigit`) or too many of them."""
    stream_id, _, seq = value.strip().rpartition(":")
    valid = stream_id and seq.isascii() and seq.isdigit() and len(seq) <= MAX_SEQ_DIGITS
    return (stream_id, int(seq)) if valid else None
