"""An answer as OpenAI's chat completion: one `chat.completion` object, or a stream of
`chat.completion.chunk` events ending in `data: [DONE]`, with ragsvc's extra fields
(`sources` on the completion or the first chunk, `citations` at the end), each [n] as a
`url_citation` annotation linking to its page (the message's, or the last chunk's delta),
and the `usage` the generator's backend counted, or counted here with the bundled
tokenizer."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import ServerSentEvent

from ragsvc.answer.plan import AnswerPlan
from ragsvc.answer.usage_count import counted_usage
from ragsvc.api.protocols.citation_links import url_citations
from ragsvc.api.sse import AnswerBatch
from ragsvc.core.quick_threads import run_quick
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, TokenEvent


def sources_header(plan: AnswerPlan) -> str:
    """The sources in brief, as JSON in plain ASCII: clients that keep response headers but
    no extra body fields (LangChain with `include_response_headers=True`) still get them."""
    brief = [
        {"n": s.n, "document_id": s.document_id, "filename": s.filename, "page": s.page}
        for s in plan.sources
    ]
    return json.dumps(brief, separators=(",", ":"))


async def usage_of(plan: AnswerPlan, done: DoneEvent) -> dict[str, int]:
    """The backend's token counts, else counted here (the extractive generator), in a
    worker thread: a prompt of five sources takes milliseconds to tokenize."""
    if done.usage is not None:
        return done.usage.model_dump()
    texts = [message["content"] for message in plan.prompt.messages]
    return (await run_quick(counted_usage, texts, done.answer)).model_dump()


def _envelope(plan: AnswerPlan, model: str, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{plan.answer_id}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def citation_annotations(plan: AnswerPlan, done: DoneEvent, base_url: str) -> list[dict[str, Any]]:
    """The answer's [n] markers as Chat Completions' `url_citation` annotations."""
    return [
        {"type": "url_citation", "url_citation": {k: v for k, v in c.items() if k != "type"}}
        for c in url_citations(done.answer, plan.sources, done.quotes, base_url)
    ]


def completion(
    plan: AnswerPlan, done: DoneEvent, model: str, usage: dict[str, int], base_url: str
) -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": done.answer,
        "annotations": citation_annotations(plan, done, base_url),
    }
    return {
        **_envelope(plan, model, "chat.completion"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": usage,
        "sources": [s.model_dump() for s in plan.sources],
        "citations": done.citations,
        "found": done.found,
    }


async def chunks(
    plan: AnswerPlan,
    batches: AsyncIterator[AnswerBatch],
    model: str,
    counted: bool,
    base_url: str,
) -> AsyncIterator[ServerSentEvent]:
    """OpenAI's streaming format: `data: <chunk>` lines, then `data: [DONE]`; `counted`
    (stream_options.include_usage): a chunk with the usage and no choices before it."""
    sources = [s.model_dump() for s in plan.sources]
    yield _chunk(plan, model, {"role": "assistant", "content": ""}, sources=sources)
    async for batch in batches:
        for _, event in batch:
            counts = (
                await usage_of(plan, event) if counted and isinstance(event, DoneEvent) else None
            )
            for chunk in _chunks_of(plan, model, event, counts, base_url):
                yield chunk
            if isinstance(event, FailedEvent):
                return
    yield ServerSentEvent(data="[DONE]")


def _chunks_of(
    plan: AnswerPlan,
    model: str,
    event: AnswerEvent,
    usage: dict[str, int] | None,
    base_url: str,
) -> list[ServerSentEvent]:
    """The chunks carrying an answer event; none for the sources (the first chunk has them).
    With `usage` (asked for), the answer's last chunk is one holding it and no choices."""
    if isinstance(event, TokenEvent):
        return [_chunk(plan, model, {"content": event.text})]
    if isinstance(event, DoneEvent):
        delta = {"annotations": citation_annotations(plan, event, base_url)}
        done = [_chunk(plan, model, delta, "stop", citations=event.citations, found=event.found)]
        if usage is None:
            return done
        counts = {**_envelope(plan, model, "chat.completion.chunk"), "choices": [], "usage": usage}
        return [*done, ServerSentEvent(data=json.dumps(counts))]
    if isinstance(event, FailedEvent):
        # OpenAI's clients raise on a chunk carrying "error"; the problem goes along.
        problem = event.problem.model_dump()
        error = {"message": problem["detail"], "type": problem["type"], **problem}
        return [ServerSentEvent(data=json.dumps({"error": error}))]
    return []


def _chunk(
    plan: AnswerPlan, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> ServerSentEvent:
    body = {
        **_envelope(plan, model, "chat.completion.chunk"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))
