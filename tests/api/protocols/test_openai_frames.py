"""An answer as OpenAI's chat completion: the whole `chat.completion` object, its chunks
when streamed (sources on the first, citations on the last, usage when asked, [DONE]), a
failure as an error chunk, and the sources in brief for a response header."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from ragsvc.answer.usage_count import counted_usage
from ragsvc.api.protocols.openai_frames import chunks, completion, sources_header, usage_of
from ragsvc.api.sse import AnswerBatch
from ragsvc.core.errors import problem
from ragsvc.core.schemas import Source, Timings, Usage
from ragsvc.streams.events import DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from tests.support.answer_plans import SOURCE, plan_of

pytestmark = pytest.mark.anyio
TIMINGS = Timings(retrieval_ms=1.0, first_token_ms=2.0, total_ms=3.0)
DONE = DoneEvent("Owls hunt at night [1].", [1], TIMINGS)


def test_a_completion_has_openais_shape_and_ragsvcs_sources():
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    body = completion(plan_of(), DONE, "ragsvc", usage, "http://x.test/")
    assert (body["id"], body["object"], body["model"]) == (
        "chatcmpl-a1",
        "chat.completion",
        "ragsvc",
    )
    assert isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": DONE.answer,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "start_index": 19,
                            "end_index": 22,
                            "url": "http://x.test/documents/d1/pages/3",
                            "title": "[1] owls.pdf, page 3",
                            "n": 1,
                            "document_id": "d1",
                            "filename": "owls.pdf",
                            "page": 3,
                        },
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == usage and body["citations"] == [1]
    assert body["sources"] == [SOURCE.model_dump()]


async def test_usage_is_the_backends_or_else_counted_here():
    plan = plan_of()
    counted = await usage_of(plan, DONE)
    texts = [m["content"] for m in plan.prompt.messages]
    assert counted == counted_usage(texts, DONE.answer).model_dump() and counted["total_tokens"]
    reported = Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    done = DoneEvent("x", [], TIMINGS, usage=reported)
    assert await usage_of(plan, done) == reported.model_dump()


def test_the_sources_header_is_brief_and_plain_ascii():
    other = SOURCE.model_copy(update={"n": 2, "filename": "chouettes élevées.pdf", "page": 4})
    header = sources_header(plan_of([SOURCE, other]))
    assert header.isascii()
    assert json.loads(header) == [
        {"n": 1, "document_id": "d1", "filename": "owls.pdf", "page": 3},
        {"n": 2, "document_id": "d1", "filename": "chouettes élevées.pdf", "page": 4},
    ]


async def batches_of(*events) -> AsyncIterator[AnswerBatch]:
    for seq, event in enumerate(events):
        yield [(seq, event)]


async def streamed(*events, counted: bool = False, sources: list[Source] | None = None):
    plan = plan_of(sources)
    return [
        sent.data
        async for sent in chunks(plan, batches_of(*events), "ragsvc", counted, "/")  # type: ignore[arg-type]
    ]


async def test_a_streamed_answer_is_chunks_then_done():
    sent = await streamed(SourcesEvent([SOURCE]), TokenEvent("Owls hunt"), DONE)
    assert sent[-1] == "[DONE]"
    first, token, last = (json.loads(data) for data in sent[:-1])
    assert first["object"] == "chat.completion.chunk" and first["id"] == "chatcmpl-a1"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["sources"] == [SOURCE.model_dump()]
    assert token["choices"][0]["delta"] == {"content": "Owls hunt"} and "sources" not in token
    assert last["choices"][0]["finish_reason"] == "stop"
    [annotation] = last["choices"][0]["delta"]["annotations"]
    assert annotation["url_citation"]["url"] == "/documents/d1/pages/3"
    assert last["citations"] == [1]


async def test_usage_comes_in_a_chunk_of_its_own_when_asked():
    sent = await streamed(SourcesEvent([SOURCE]), DONE, counted=True)
    usage = json.loads(sent[-2])
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert sent[-1] == "[DONE]"


async def test_a_failure_is_an_error_chunk_and_the_stream_ends():
    failed = FailedEvent(problem(503, "the LLM went away"))
    sent = await streamed(SourcesEvent([SOURCE]), TokenEvent("Owls"), failed)
    error = json.loads(sent[-1])["error"]
    assert error["message"] == "the LLM went away" and error["status"] == 503
    assert "[DONE]" not in sent
