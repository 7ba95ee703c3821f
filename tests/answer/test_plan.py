"""An answer's plan, made by hand: its events follow from it (its sources, the first piece
the generator gave, the rest, then `done` with the plan's timings and pending documents,
after its turn was recorded), and a first piece that is a usage count is no token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from ragsvc.answer.answer_events import answer_events
from ragsvc.answer.plan import AnswerPlan
from ragsvc.answer.prompts import Prompt
from ragsvc.core.schemas import Source, Turn, Usage
from ragsvc.streams.events import AnswerEvent, DoneEvent, SourcesEvent, TokenEvent

pytestmark = pytest.mark.anyio
QUESTION = "When do owls hunt?"
SOURCE = Source(
    n=1, document_id="d1", filename="owls.pdf", page=3, score=0.9, text="Owls hunt at night."
)


async def pieces_of(*pieces: str | Usage) -> AsyncIterator[str | Usage]:
    for piece in pieces:
        yield piece


def plan_of(first: str | Usage, *rest: str | Usage) -> AnswerPlan:
    return AnswerPlan(
        answer_id="a1",
        token_hash="a" * 64,
        question=QUESTION,
        sources=[SOURCE],
        prompt=Prompt(QUESTION, [SOURCE]),
        pieces=pieces_of(*rest),
        first=first,
        started=time.perf_counter(),
        retrieval_ms=1.5,
        first_token_ms=2.5,
        pending=["d2"],
    )


async def events_of(plan: AnswerPlan) -> tuple[list[AnswerEvent], list[Turn]]:
    recorded: list[Turn] = []

    async def record(turn: Turn) -> None:
        recorded.append(turn)

    return [event async for event in answer_events(plan, record)], recorded


async def test_an_answers_events_follow_from_its_plan():
    plan = plan_of("Owls hunt ", "at night [1].")
    events, recorded = await events_of(plan)
    assert events[0] == SourcesEvent([SOURCE])
    assert events[1:3] == [TokenEvent("Owls hunt "), TokenEvent("at night [1].")]
    done = events[-1]
    assert isinstance(done, DoneEvent) and len(events) == 4
    assert (done.answer, done.citations, done.pending) == ("Owls hunt at night [1].", [1], ["d2"])
    assert (done.timings.retrieval_ms, done.timings.first_token_ms) == (1.5, 2.5)
    assert done.usage is None
    assert [(t.question, t.answer) for t in recorded] == [(QUESTION, done.answer)]


async def test_a_usage_count_is_no_token():
    usage = Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13)
    events, _ = await events_of(plan_of(usage))
    assert [type(e) for e in events] == [SourcesEvent, DoneEvent]
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.answer == "" and done.usage == usage
    events, _ = await events_of(plan_of("Owls hunt at night.", usage))  # the count comes last
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.usage == usage
    assert [e.text for e in events if isinstance(e, TokenEvent)] == ["Owls hunt at night."]
