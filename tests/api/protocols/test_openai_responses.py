"""An answer as OpenAI's Responses API stream: typed events in order, numbered, the [n]
markers as annotations before the text is done, a failure as `response.failed`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from ragsvc.api.protocols.openai_responses import Responding, events
from ragsvc.api.sse import AnswerBatch
from ragsvc.core.errors import problem
from ragsvc.core.schemas import Timings
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from tests.support.answer_plans import SOURCE, plan_of

pytestmark = pytest.mark.anyio
DONE = DoneEvent("Owls hunt [1].", [1], Timings(retrieval_ms=1, first_token_ms=2, total_ms=3))


async def batches_of(*answer_events: AnswerEvent) -> AsyncIterator[AnswerBatch]:
    for seq, event in enumerate(answer_events):
        yield [(seq, event)]


async def streamed(*answer_events: AnswerEvent) -> list[dict]:
    responding = Responding(plan_of(), "ragsvc", "https://x.test/")
    return [
        json.loads(str(sent.data)) async for sent in events(responding, batches_of(*answer_events))
    ]


async def test_the_events_of_an_answer_in_order():
    sent = await streamed(SourcesEvent([SOURCE]), TokenEvent("Owls hunt [1]."), DONE)
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    assert [e["type"] for e in sent] == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    annotation = sent[4]["annotation"]
    assert (annotation["start_index"], annotation["end_index"]) == (10, 13)
    assert annotation["url"] == "https://x.test/documents/d1/pages/3"
    completed = sent[-1]["response"]
    assert completed["status"] == "completed" and completed["citations"] == [1]
    assert completed["output"][0]["content"][0]["annotations"] == [annotation]
    assert completed["usage"]["total_tokens"] > 0


async def test_a_failure_is_a_failed_response_and_the_end():
    failed = FailedEvent(problem(503, "the LLM went away"))
    sent = await streamed(SourcesEvent([SOURCE]), TokenEvent("Owls"), failed)
    assert sent[-1]["type"] == "response.failed"
    assert sent[-1]["response"]["error"] == {
        "code": "service-unavailable",
        "message": "the LLM went away",
    }
