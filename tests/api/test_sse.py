"""The SSE wire format on its own: event names and data, `<stream>:<seq>` ids, the retry hint
on the first frame only, one write per batch, split at 64 KB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sse_starlette import ServerSentEvent

from ragsvc.api.sse import (
    WRITE_BYTES,
    Batch,
    encode_frame,
    frames,
    parse_event_id,
    whole_event_stream,
)
from ragsvc.core.config import Settings
from ragsvc.core.errors import AnswerAbandoned
from ragsvc.core.schemas import Document, Quote, Source, Timings, Usage
from ragsvc.streams.event_codec import decode_event, encode_event, event_name_and_data
from ragsvc.streams.events import (
    AnswerEvent,
    ChunksEmbedded,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)
from tests.support.apps import parse_sse

pytestmark = pytest.mark.anyio
SOURCE = Source(n=1, document_id="d1", filename="p.pdf", page=3, score=0.5, text="Owls hunt.")
DOCUMENT = Document(
    id="d1",
    filename="p.pdf",
    sha256="0" * 64,
    pages=2,
    chunks=4,
    status="ready",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


async def batches_of(*batches: Batch) -> AsyncIterator[Batch]:
    for batch in batches:
        yield batch


async def writes(*batches: Batch, retry_ms: int = 1000) -> list[bytes]:
    return [write async for write in frames("a1", batches_of(*batches), retry_ms)]


def test_every_event_has_its_name_and_data():
    timings = Timings(retrieval_ms=1.0, first_token_ms=2.0, total_ms=3.0)
    problem = AnswerAbandoned().problem()
    assert event_name_and_data(SourcesEvent([SOURCE])) == (
        "sources",
        {"sources": [SOURCE.model_dump()]},
    )
    assert event_name_and_data(TokenEvent("Owls ")) == ("token", {"text": "Owls "})
    quote = Quote(n=1, claim="Owls hunt.", text="Owls hunt", start=0, end=9, page=1, verified=True)
    assert event_name_and_data(DoneEvent("Owls hunt. [1]", [1], timings, quotes=[quote])) == (
        "done",
        {
            "answer": "Owls hunt. [1]",
            "citations": [1],
            "quotes": [quote.model_dump()],
            "pending": [],
            "found": True,
            "timings": timings.model_dump(),
        },
    )
    assert event_name_and_data(FailedEvent(problem)) == ("error", problem.model_dump())
    assert event_name_and_data(PageParsed(1, 2)) == ("page", {"page": 1, "pages": 2})
    assert event_name_and_data(ChunksEmbedded(4, 4)) == ("chunks", {"embedded": 4, "chunks": 4})
    assert event_name_and_data(DocumentSettled(DOCUMENT)) == (
        "ready",
        DOCUMENT.model_dump(mode="json"),
    )


def test_every_event_decodes_to_itself():
    """What a shared event log keeps (name and JSON) gives back the same event on another
    replica."""
    timings = Timings(retrieval_ms=1.0, first_token_ms=2.0, total_ms=3.0)
    events = [
        SourcesEvent([SOURCE]),
        TokenEvent('Owls "hunt"\nat night '),
        DoneEvent("Owls hunt. [1]", [1], timings),
        DoneEvent(
            "Owls hunt. [1]",
            [1],
            timings,
            Usage(prompt_tokens=9, completion_tokens=4, total_tokens=13),
        ),
        FailedEvent(AnswerAbandoned().problem()),
        PageParsed(1, 2),
        ChunksEmbedded(4, 4),
        DocumentSettled(DOCUMENT),
        DocumentSettled(DOCUMENT.model_copy(update={"status": "failed", "detail": "broken"})),
    ]
    assert [decode_event(*encode_event(e)) for e in events] == events


async def test_ids_number_the_events_and_only_the_first_frame_hints_the_retry():
    first: list[tuple[int, AnswerEvent]] = [(0, SourcesEvent([SOURCE])), (1, TokenEvent("Owls "))]
    second: list[tuple[int, AnswerEvent]] = [(2, TokenEvent("hunt."))]
    parsed = parse_sse(b"".join(await writes(first, second, retry_ms=750)).decode())
    assert [f["id"] for f in parsed] == ["a1:0", "a1:1", "a1:2"]
    assert [f["event"] for f in parsed] == ["sources", "token", "token"]
    assert [f.get("retry") for f in parsed] == ["750", None, None]
    assert json.loads(parsed[2]["data"]) == {"text": "hunt."}


async def test_a_batch_goes_out_in_one_write():
    burst: list[tuple[int, AnswerEvent]] = [(i, TokenEvent(f"w{i} ")) for i in range(40)]
    sent = await writes(burst)
    assert len(sent) == 1
    assert [f["id"] for f in parse_sse(sent[0].decode())] == [f"a1:{i}" for i in range(40)]


async def test_a_whole_answer_is_the_body_its_stream_would_write():
    events: list[AnswerEvent] = [
        SourcesEvent([SOURCE]),
        TokenEvent("Eulen "),
        TokenEvent("jagen Mäuse."),
    ]
    settings = Settings(sse_retry_ms=750)
    response = whole_event_stream("a1", events, settings, {"X-Answer-Id": "a1"})
    assert response.body == b"".join(await writes(list(enumerate(events)), retry_ms=750))
    assert response.headers["content-length"] == str(len(response.body))
    assert response.headers["x-accel-buffering"] == "no"


async def test_a_large_batch_is_split_at_64_kb_without_cutting_a_frame():
    big: list[tuple[int, AnswerEvent]] = [(i, TokenEvent("x" * 10_000)) for i in range(20)]
    sent = await writes(big)
    assert len(sent) > 1
    assert all(WRITE_BYTES <= len(write) < WRITE_BYTES + 11_000 for write in sent[:-1])
    assert all(write.endswith(b"\r\n\r\n") for write in sent)
    frames_ = parse_sse(b"".join(sent).decode())
    assert [f["id"] for f in frames_] == [f"a1:{i}" for i in range(20)]


def test_event_ids_parse_back_to_stream_and_sequence():
    assert parse_event_id("a1:7") == ("a1", 7)
    assert parse_event_id(" ns:a1:12 ") == ("ns:a1", 12)
    assert parse_event_id("a1") is None
    assert parse_event_id(":3") is None
    assert parse_event_id("a1:x") is None


@pytest.mark.parametrize("text", ["plain ", "line\nbreak\r\nand\rreturn ", "unicode \u2028 ✓ ", ""])
@pytest.mark.parametrize("retry", [None, 1500])
def test_frames_are_written_as_sse_starlette_writes_them(text: str, retry: int | None):
    data = json.dumps({"text": text}, ensure_ascii=False)
    expected = ServerSentEvent(data=data, event="token", id="a1:7", retry=retry).encode()
    assert encode_frame("token", data, "a1", 7, retry) == expected


async def test_token_frames_carry_the_same_json_as_every_other_event():
    text = 'a "quoted"\nline ✓ \\ '
    [write] = await writes([(0, TokenEvent(text))])
    [frame] = parse_sse(write.decode())
    assert frame["event"] == "token" and json.loads(frame["data"]) == {"text": text}
