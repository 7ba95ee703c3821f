"""Typed events of one answer, in the order the pipeline yields them; `sse.py` frames them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragsvc.schemas import Source, Timings


@dataclass(frozen=True)
class SourcesEvent:
    sources: list[Source]


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class DoneEvent:
    answer: str
    citations: list[int]
    timings: Timings


@dataclass(frozen=True)
class FailedEvent:
    problem: dict[str, Any]


AnswerEvent = SourcesEvent | TokenEvent | DoneEvent | FailedEvent
