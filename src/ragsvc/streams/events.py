"""Typed events of an answer and of an ingest, in the order they happen; `api/sse.py` frames
them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ragsvc.core.schemas import Document, Problem, Quote, Source, Timings, Usage


@dataclass(frozen=True)
class SourcesEvent:
    sources: list[Source]


@dataclass(frozen=True)
class TokenEvent:
    text: str


# A word's token event is shared by every answer writing it (events never change once
# made, their encoding included): the 2,000 answers' logs kept to resume held 120,000 of
# them, which every full pass of the garbage collector walked (50-160 ms each under load).
TOKEN_EVENTS = 65_536


@lru_cache(maxsize=TOKEN_EVENTS)
def token_event(text: str) -> TokenEvent:
    """The token event of `text`, made once while it is in use."""
    return TokenEvent(text)


@dataclass(frozen=True)
class DoneEvent:
    answer: str
    citations: list[int]
    timings: Timings
    usage: Usage | None = None  # as the generator's backend counted it, when it does
    quotes: list[Quote] = field(default_factory=list)  # one per [n], in the answer's order
    pending: list[str] = field(default_factory=list)  # still ingesting: searched as far as indexed
    found: bool = True  # False: the answer says the documents do not hold what was asked


@dataclass(frozen=True)
class FailedEvent:
    problem: Problem


AnswerEvent = SourcesEvent | TokenEvent | DoneEvent | FailedEvent


@dataclass(frozen=True)
class PageParsed:
    page: int  # pages parsed so far (one at a time, or a range at once from worker processes)
    pages: int


@dataclass(frozen=True)
class ChunksEmbedded:
    embedded: int
    chunks: int


@dataclass(frozen=True)
class DocumentSettled:
    """The last event of an ingest: the document as it ends (ready, no_text or failed)."""

    document: Document


@dataclass(frozen=True)
class DocumentDeleted:
    """The last event of an ingest whose document was deleted before it settled."""

    document_id: str
    detail: str = "the document was deleted while it was being ingested"


IngestEvent = PageParsed | ChunksEmbedded | DocumentSettled | DocumentDeleted
