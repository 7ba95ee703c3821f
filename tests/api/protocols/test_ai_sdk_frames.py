"""An answer's events as the Vercel AI SDK's UI message stream: each event's chunks, under
ragsvc's ids (so Last-Event-ID resumes), the stream closed by [DONE] after its end."""

from __future__ import annotations

import json
from typing import Any

from ragsvc.api.protocols.ai_sdk_frames import TEXT_ID, ai_sdk_frame
from ragsvc.core.errors import problem
from ragsvc.core.schemas import Quote, Timings, Usage
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from tests.support.answer_plans import SOURCE
from tests.support.apps import parse_sse

TIMINGS = Timings(retrieval_ms=1.0, first_token_ms=2.0, total_ms=3.0)


def framed(event: AnswerEvent, seq: int = 0, retry: int | None = None) -> list[dict[str, str]]:
    return parse_sse(ai_sdk_frame("a1", seq, event, retry, "https://x.test/rag/").decode())


def chunks(frames: list[dict[str, str]]) -> list[Any]:
    return [json.loads(f["data"]) if f["data"] != "[DONE]" else "[DONE]" for f in frames]


def test_the_sources_open_the_message_and_its_text():
    frames = framed(SourcesEvent([SOURCE]), seq=0, retry=1500)
    assert all(f["id"] == "a1:0" and f["retry"] == "1500" for f in frames)
    start, link, document, whole, text_start = chunks(frames)
    assert start == {"type": "start", "messageId": "a1"}
    url = f"https://x.test/rag/documents/{SOURCE.document_id}/pages/3"
    metadata = {
        "ragsvc": {
            "n": 1,
            "documentId": SOURCE.document_id,
            "filename": "owls.pdf",
            "page": 3,
            "url": url,
        }
    }
    assert link == {
        "type": "source-url",
        "sourceId": "a1:1",
        "url": url,
        "title": "[1] owls.pdf, page 3",
        "providerMetadata": metadata,
    }
    assert document == {
        "type": "source-document",
        "sourceId": "a1:1",
        "mediaType": "application/pdf",
        "title": "[1] owls.pdf, page 3",
        "filename": "owls.pdf",
        "providerMetadata": metadata,
    }
    assert whole == {"type": "data-sources", "data": [SOURCE.model_dump()]}
    assert text_start == {"type": "text-start", "id": TEXT_ID}


def test_a_token_is_a_text_delta_under_its_sequence_number():
    [frame] = framed(TokenEvent("Owls ünd"), seq=4)
    assert frame["id"] == "a1:4" and "retry" not in frame
    assert json.loads(frame["data"]) == {"type": "text-delta", "id": TEXT_ID, "delta": "Owls ünd"}


def test_done_ends_the_text_then_the_message_then_the_stream():
    usage = Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)
    quote = Quote(n=1, claim="Owls hunt", text="Owls hunt", start=0, end=9, page=3, verified=True)
    done = DoneEvent("Owls hunt [1].", [1], TIMINGS, usage=usage, quotes=[quote])
    assert chunks(framed(done, seq=9)) == [
        {"type": "text-end", "id": TEXT_ID},
        {
            "type": "data-done",
            "data": {
                "citations": [1],
                "quotes": [quote.model_dump()],
                "found": True,
                "timings": TIMINGS.model_dump(),
                "usage": usage.model_dump(),
            },
        },
        {"type": "finish"},
        "[DONE]",
    ]
    without_usage = chunks(framed(DoneEvent("Owls.", [], TIMINGS)))
    assert "usage" not in without_usage[1]["data"]


def test_a_failure_is_an_error_then_the_end_of_the_stream():
    failed = FailedEvent(problem(503, "the LLM went away"))
    assert chunks(framed(failed)) == [{"type": "error", "errorText": "the LLM went away"}, "[DONE]"]
