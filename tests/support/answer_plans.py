"""An answer's plan made by hand, for the api tests of how answers are framed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ragsvc.answer.plan import AnswerPlan
from ragsvc.answer.prompts import Prompt
from ragsvc.core.schemas import Source, Usage

QUESTION = "When do owls hunt?"
SOURCE = Source(
    n=1, document_id="d1", filename="owls.pdf", page=3, score=0.9, text="Owls hunt at night."
)


async def _nothing() -> AsyncIterator[str | Usage]:
    return
    yield ""


def plan_of(sources: list[Source] | None = None) -> AnswerPlan:
    sources = [SOURCE] if sources is None else sources
    return AnswerPlan(
        answer_id="a1",
        token_hash="a" * 64,
        question=QUESTION,
        sources=sources,
        prompt=Prompt(QUESTION, sources),
        pieces=_nothing(),
        first="",
        started=time.perf_counter(),
        retrieval_ms=1.0,
        first_token_ms=2.0,
        pending=[],
    )
