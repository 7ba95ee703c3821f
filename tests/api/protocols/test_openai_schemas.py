"""The `/v1` schemas of the OpenAPI document describe what openai_frames.py builds, field
for field: the completion, every kind of chunk (first with sources, tokens, the last with
citations, usage, an error), and `/v1/responses`' response and events, none of their
fields left undeclared."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from ragsvc.api.protocols.openai_frames import chunks, completion
from ragsvc.api.protocols.openai_responses import Responding, events
from ragsvc.api.protocols.openai_schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionErrorChunk,
    ResponseObject,
    ResponseStreamEvent,
)
from ragsvc.core.errors import problem
from ragsvc.core.schemas import Timings
from ragsvc.streams.events import DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from tests.support.answer_plans import SOURCE, plan_of

pytestmark = pytest.mark.anyio
DONE = DoneEvent(
    "Owls hunt at night [1].", [1], Timings(retrieval_ms=1, first_token_ms=2, total_ms=3)
)


def described(model: type[BaseModel], body: dict[str, object]) -> None:
    """`body` validates as `model`, and the model keeps every field of it."""
    assert model.model_validate(body).model_dump(mode="json", exclude_unset=True) == body


def test_the_completion():
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    described(ChatCompletion, completion(plan_of(), DONE, "ragsvc", usage, "http://rag/"))


async def test_every_chunk():
    async def batches(*events):
        for seq, event in enumerate(events):
            yield [(seq, event)]

    answer = batches(SourcesEvent([SOURCE]), TokenEvent("Owls hunt"), DONE)
    sent = [s.data async for s in chunks(plan_of(), answer, "ragsvc", True, "http://rag/")]  # type: ignore[arg-type]
    assert sent[-1] == "[DONE]"
    for data in sent[:-1]:
        described(ChatCompletionChunk, json.loads(data))
    failed = batches(FailedEvent(problem(503, "the LLM went away")))
    error = [s.data async for s in chunks(plan_of(), failed, "ragsvc", False, "http://rag/")]  # type: ignore[arg-type]
    described(ChatCompletionErrorChunk, json.loads(error[-1]))


async def test_the_response_object_whole_and_failed():
    """`/v1/responses`: in progress, completed (with its citations) and failed."""
    responding = Responding(plan_of(), "ragsvc", "http://rag/")
    described(ResponseObject, responding.response("in_progress"))
    completed = await responding.completed(DONE)
    assert completed["output"][0]["content"][0]["annotations"]  # the [1] as a link
    described(ResponseObject, completed)
    described(ResponseObject, responding.failed(problem(503, "the LLM went away")))


async def test_every_response_event():
    async def batches(*events):
        for seq, event in enumerate(events):
            yield [(seq, event)]

    responding = Responding(plan_of(), "ragsvc", "http://rag/")
    answer = batches(SourcesEvent([SOURCE]), TokenEvent("Owls hunt"), DONE)
    sent = [s async for s in events(responding, answer)]  # type: ignore[arg-type]
    for frame in sent:
        body = json.loads(frame.data)
        assert body["type"] == frame.event
        described(ResponseStreamEvent, body)
        if body["type"] == "response.completed":
            described(ResponseObject, body["response"])
