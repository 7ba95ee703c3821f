"""An answer's plan: everything settled before its first byte (the question, its numbered
sources, the prompt, the generator started), from which its events then follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ragsvc.answer.prompts import Prompt
from ragsvc.core.schemas import Source, Usage


@dataclass
class AnswerPlan:
    """Everything settled before the first byte: sources found, the generator under way."""

    answer_id: str
    token_hash: str
    question: str
    sources: list[Source]
    prompt: Prompt
    pieces: AsyncIterator[str | Usage]
    first: str | Usage
    started: float
    retrieval_ms: float
    first_token_ms: float
    pending: list[str]  # documents asked about still being ingested: searched as far as indexed
