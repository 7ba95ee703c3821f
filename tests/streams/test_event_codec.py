"""Events as a shared log keeps them: (name, one line of JSON) and back to the same event,
for every event type; token text with line breaks stays on one line; a batch of events is
one text and back; an event is serialised once, and one read back keeps the text it was
read from."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ragsvc.core.errors import Overloaded, WorkLost
from ragsvc.core.schemas import Document, Quote, Source, Timings, Usage
from ragsvc.streams.event_codec import (
    Event,
    decode_event,
    decode_events,
    encode_event,
    encode_events,
)
from ragsvc.streams.events import (
    ChunksEmbedded,
    DocumentSettled,
    DoneEvent,
    FailedEvent,
    PageParsed,
    SourcesEvent,
    TokenEvent,
)

SOURCE = Source(
    n=1,
    document_id="d1",
    filename="tides.pdf",
    page=2,
    score=0.25,
    text="Tides rise\ntwice a day.",
    section="2 Method > 2.1 Gauges",
    language="de",
)
QUOTE = Quote(n=1, claim="Tides rise.", text="Tides rise", start=0, end=10, page=2, verified=False)
TIMINGS = Timings(retrieval_ms=1.5, total_ms=9.0)  # no first token: an answer from nothing
DOCUMENT = Document(
    id="d1",
    filename="tides.pdf",
    sha256="a" * 64,
    size=1234,
    pages=3,
    chunks=0,
    status="no_text",
    title="Tides",
    language="en",
    created_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
)
USAGE = Usage(prompt_tokens=5, completion_tokens=0, total_tokens=5)
FAILED = DOCUMENT.model_copy(update={"status": "failed", "detail": "unreadable"})
EVENTS: list[tuple[str, Event]] = [
    ("sources", SourcesEvent([SOURCE, SOURCE.model_copy(update={"n": 2, "section": None})])),
    ("sources", SourcesEvent([])),
    ("token", TokenEvent("")),
    ("token", TokenEvent('Gezeiten \u00fcber \u2028 "zwei" \\ Mal\r\n')),
    ("done", DoneEvent("Tides rise [1].", [1], TIMINGS, None, [QUOTE], ["d2", "d3"])),
    ("done", DoneEvent("", [], TIMINGS, USAGE)),
    ("error", FailedEvent(WorkLost().problem())),
    ("error", FailedEvent(Overloaded("busy").problem())),
    ("page", PageParsed(7, 9)),
    ("chunks", ChunksEmbedded(0, 12)),
    ("no_text", DocumentSettled(DOCUMENT)),
    ("failed", DocumentSettled(FAILED)),
    ("processing", DocumentSettled(DOCUMENT.model_copy(update={"status": "processing"}))),
]


@pytest.mark.parametrize(("name", "event"), EVENTS)
def test_every_event_comes_back_as_itself_under_its_name(name: str, event: Event):
    encoded = encode_event(event)
    assert encoded[0] == name
    assert decode_event(*encoded) == event


@pytest.mark.parametrize(("name", "event"), EVENTS)
def test_the_json_of_every_event_is_one_line(name: str, event: Event):
    _, text = encode_event(event)
    assert "\n" not in text and "\r" not in text


def test_a_tokens_text_keeps_its_line_breaks_escaped_and_its_letters_as_they_are():
    name, text = encode_event(TokenEvent('Tides\nrise "twice"\r\na day, \u00fcber'))
    assert name == "token"
    assert text == '{"text": "Tides\\nrise \\"twice\\"\\r\\na day, \u00fcber"}'
    assert json.loads(text) == {"text": 'Tides\nrise "twice"\r\na day, \u00fcber'}


def test_a_done_event_without_usage_has_no_usage_field():
    _, text = encode_event(DoneEvent("Tides rise.", [], TIMINGS))
    assert "usage" not in json.loads(text)


def test_a_batch_of_events_is_one_text_and_comes_back_as_those_events():
    events = [event for _, event in EVENTS]
    text = encode_events(events)
    assert decode_events(text) == events
    assert [encode_event(e) for e in decode_events(text)] == [encode_event(e) for e in events]
    assert decode_events(encode_events([])) == []


def test_an_event_is_serialised_once_however_often_it_is_framed_or_copied():
    event = DoneEvent("Tides rise [1].", [1], TIMINGS, None, [QUOTE])
    first = encode_event(event)
    assert encode_event(event) is first  # the same text, not made again
    assert event == DoneEvent("Tides rise [1].", [1], TIMINGS, None, [QUOTE])  # fields only


def test_an_event_read_back_keeps_the_text_it_was_read_from():
    text = '{"text":"Tides"}'  # as another writer spaced it: not json.dumps' spacing
    event = decode_event("token", text)
    assert event == TokenEvent("Tides")
    assert encode_event(event) == ("token", text)


@pytest.mark.parametrize(
    "text", ["", 'a "quoted" \\ word', "Zeile\r\nzwei\u2028 über", "\x00\x1f\t"]
)
def test_a_token_is_the_json_a_client_parses_back(text: str):
    name, data = encode_event(TokenEvent(text))
    assert name == "token" and json.loads(data) == {"text": text} and "\n" not in data
    assert data == json.dumps({"text": text}, ensure_ascii=False)  # as before: same bytes
