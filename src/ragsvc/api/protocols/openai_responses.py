"""An answer as OpenAI's Responses API: one `response` object, or its stream of typed events
(`response.created` ... `response.output_text.delta` ... `response.completed`), the answer
one `output_text` whose `annotations` are its [n] markers as `url_citation`s (a link to the
cited page, the document, page and quote). That is where OpenAI's clients keep citations:
LangChain's ChatOpenAI with `use_responses_api=True` keeps them in the message's content
blocks, while from a chat completion it keeps the text alone. ragsvc's `sources`,
`citations` and `found` ride along on the response object, and the sources in brief in its
`metadata` (which ChatOpenAI keeps too)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from ragsvc.answer.plan import AnswerPlan
from ragsvc.api.protocols.citation_links import url_citations
from ragsvc.api.protocols.openai_frames import sources_header, usage_of
from ragsvc.api.sse import AnswerBatch
from ragsvc.core.schemas import Problem
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, TokenEvent

PLACE = {"output_index": 0, "content_index": 0}  # the one message, its one text


@dataclass(frozen=True)
class Responding:
    """One answer as a response: its plan, the model named, the base of the page links."""

    plan: AnswerPlan
    model: str
    base_url: str

    def response(self, status: str, done: DoneEvent | None = None, **extra: Any) -> dict[str, Any]:
        """The response as it stands: in progress (no output yet), or completed with `done`."""
        output = [] if done is None else [self.message(done.answer, self.annotations(done))]
        ended = {} if done is None else {"citations": done.citations, "found": done.found}
        return {
            "id": f"resp_{self.plan.answer_id}",
            "object": "response",
            "created_at": int(time.time()),
            "model": self.model,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "output": output,
            "parallel_tool_calls": False,
            "tool_choice": "none",
            "tools": [],
            # Where a client keeps nothing else of a response (LangChain's ChatOpenAI keeps
            # `metadata`), every source in brief, cited or not.
            "metadata": {"ragsvc_sources": sources_header(self.plan)},
            "sources": [s.model_dump() for s in self.plan.sources],
            **ended,
            **extra,
        }

    async def completed(self, done: DoneEvent) -> dict[str, Any]:
        """The whole answer as a completed response, its usage counted."""
        return self.response("completed", done, usage=_usage(await usage_of(self.plan, done)))

    def failed(self, problem: Problem) -> dict[str, Any]:
        error = {"code": problem.type.rpartition(":")[2], "message": problem.detail}
        return {**self.response("failed"), "error": error}

    def annotations(self, done: DoneEvent) -> list[dict[str, Any]]:
        return url_citations(done.answer, self.plan.sources, done.quotes, self.base_url)

    def message(
        self, text: str, annotations: list[dict[str, Any]], status: str = "completed"
    ) -> dict[str, Any]:
        content = [_output_text(text, annotations)] if status == "completed" else []
        return {
            "type": "message",
            "id": f"msg_{self.plan.answer_id}",
            "role": "assistant",
            "status": status,
            "content": content,
        }


async def events(
    responding: Responding, batches: AsyncIterator[AnswerBatch]
) -> AsyncIterator[ServerSentEvent]:
    """The Responses API's stream of one answer; a failure ends it with `response.failed`."""
    numbered = _Numbered()
    yield numbered("response.created", response=responding.response("in_progress"))
    item = responding.message("", [], status="in_progress")
    yield numbered("response.output_item.added", output_index=0, item=item)
    part = _output_text("", [])
    yield numbered("response.content_part.added", item_id=item["id"], **PLACE, part=part)
    async for batch in batches:
        for _, event in batch:
            for frame in await _frames_of(responding, event, numbered):
                yield frame
            if isinstance(event, FailedEvent):
                return


async def _frames_of(
    responding: Responding, event: AnswerEvent, numbered: _Numbered
) -> list[ServerSentEvent]:
    """The events carrying one answer event (none for the sources: the response has them)."""
    if isinstance(event, TokenEvent):
        item_id = f"msg_{responding.plan.answer_id}"
        delta = {"item_id": item_id, **PLACE, "delta": event.text, "logprobs": []}
        return [numbered("response.output_text.delta", **delta)]
    if isinstance(event, DoneEvent):
        ending = list(_ending(responding, event, numbered))
        whole = await responding.completed(event)
        return [*ending, numbered("response.completed", response=whole)]
    if isinstance(event, FailedEvent):
        return [numbered("response.failed", response=responding.failed(event.problem))]
    return []


def _ending(
    responding: Responding, done: DoneEvent, numbered: _Numbered
) -> Iterator[ServerSentEvent]:
    """The text's annotations, then the text, its part and its message, each done."""
    annotations = responding.annotations(done)
    item = responding.message(done.answer, annotations)
    place = {"item_id": item["id"], **PLACE}
    for i, annotation in enumerate(annotations):
        yield numbered(
            "response.output_text.annotation.added",
            **place,
            annotation_index=i,
            annotation=annotation,
        )
    yield numbered("response.output_text.done", **place, text=done.answer, logprobs=[])
    yield numbered("response.content_part.done", **place, part=item["content"][0])
    yield numbered("response.output_item.done", output_index=0, item=item)


def _output_text(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}


def _usage(counts: dict[str, int]) -> dict[str, Any]:
    """Chat Completions' token counts under the Responses API's names."""
    return {
        "input_tokens": counts["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": counts["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": counts["total_tokens"],
    }


class _Numbered:
    """Events as the Responses API frames them: `event:` its type, a `sequence_number`."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, kind: str, **fields: Any) -> ServerSentEvent:
        body = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return ServerSentEvent(data=json.dumps(body, ensure_ascii=False), event=kind)
