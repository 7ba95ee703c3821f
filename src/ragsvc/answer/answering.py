"""Use case: a question (+ the session's recent turns) -> retrieval -> prompt -> generation
-> typed events (sources, tokens, done or failed). No web framework here.

`Answering.plan` does everything that can fail as a plain HTTP error (the question, the
session's documents, retrieval, the generator's first piece); `Answering.events` streams
the rest, where a failure becomes a `FailedEvent`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from ragsvc.answer.citation_check import supporting_quotes
from ragsvc.answer.generators import Generator
from ragsvc.answer.prompts import Prompt
from ragsvc.answer.question_shapes import is_global_question, names_in, requested_section
from ragsvc.core.clock import now
from ragsvc.core.errors import (
    AnswerAbandoned,
    DocumentNotFound,
    InvalidInput,
    NoReadyDocuments,
    ProblemRaised,
    expected,
    problem,
    problem_of,
)
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import AskRequest, Document, Problem, Source, Timings, Turn, Usage
from ragsvc.search.embedders import Embedder
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import (
    Mode,
    Query,
    Retrieved,
    retrieve,
)
from ragsvc.search.sections import section_hits
from ragsvc.storage.protocols import Store
from ragsvc.storage.records import SessionState
from ragsvc.streams.event_log import EventLog, Work
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent

log = logging.getLogger(__name__)
CITATION_MARKER = re.compile(r"\[(\d+)\]")  # an answer's "[n]", naming source n


@dataclass(frozen=True)
class AnswerOptions:
    """The settings answering reads, under their names in `Settings` (which holds the
    defaults): RAGSVC_MAX_QUESTION_CHARS, _MAX_HISTORY_CHARS, _HISTORY_TURNS, _TOP_K,
    _RETRIEVAL, _MMR_LAMBDA."""

    max_question_chars: int
    max_history_chars: int
    history_turns: int
    top_k: int
    retrieval: Mode
    mmr_lambda: float


@dataclass
class AnswerPlan:
    """Everything settled before the first byte: sources found, generation under way."""

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


@dataclass(frozen=True)
class Found:
    """The passages to answer from, which of them (1-based) to summarise, and the names
    in the question that no passage of the session holds."""

    hits: list[Retrieved]
    summarise: frozenset[int]
    unmentioned: tuple[str, ...] = ()


@dataclass
class Answering:
    """Answers questions from a session's documents with the backends it is given."""

    store: Store
    embedder: Embedder
    generator: Generator
    options: AnswerOptions

    async def plan(
        self, token_hash: str, request: AskRequest, history: list[Turn] | None = None
    ) -> AnswerPlan:
        """Retrieve and start generating; failures here are plain HTTP errors, not events.
        `history` replaces the session's stored turns (a client that sends its conversation)."""
        started = time.perf_counter()
        question = checked_question(request.question, self.options.max_question_chars)
        keep = self.options.history_turns if history is None else 0  # else: not read
        conversation = await self.store.load_conversation(token_hash, keep)
        state = conversation.state
        wanted = wanted_documents(state, request.document_ids)
        index = answerable_index(state, wanted, self.embedder.name)
        turns = conversation.turns if history is None else self._client_turns(history)
        top_k = request.top_k or self.options.top_k
        found = await self.find(index, question, turns, top_k, wanted)
        sources = numbered_sources(found.hits, state.documents)
        retrieval_ms = _ms(started)
        prompt = Prompt(
            question, sources, turns, summarise=found.summarise, unmentioned=found.unmentioned
        )
        pieces = self.generator.stream(prompt)
        first = await anext(pieces, "")  # an unreachable LLM becomes a 503 before the stream opens
        return AnswerPlan(
            answer_id=uuid.uuid4().hex,
            token_hash=token_hash,
            question=question,
            sources=sources,
            prompt=prompt,
            pieces=pieces,
            first=first,
            started=started,
            retrieval_ms=retrieval_ms,
            first_token_ms=_ms(started),
            pending=still_ingesting(state, wanted),
        )

    async def events(self, plan: AnswerPlan) -> AsyncIterator[AnswerEvent]:
        """Sources, tokens, then done (turn recorded) or failed; closes the generator either way."""
        yield SourcesEvent(plan.sources)
        first = plan.first
        parts = [first] if isinstance(first, str) and first else []
        usage = first if isinstance(first, Usage) else None
        try:
            if parts:
                yield TokenEvent(parts[0])
            async for piece in plan.pieces:
                if isinstance(piece, Usage):  # a backend's count, after the last piece
                    usage = piece
                    continue
                parts.append(piece)
                yield TokenEvent(piece)
        except Exception as exc:
            yield FailedEvent(failure_problem(exc))
            return
        finally:
            with anyio.CancelScope(shield=True):  # runs on client disconnect too
                await plan.pieces.aclose()  # type: ignore[attr-defined]
        yield await self._done(plan, "".join(parts), usage)

    async def _done(self, plan: AnswerPlan, answer: str, usage: Usage | None) -> DoneEvent:
        """Record the turn, then the answer's last event."""
        turn = Turn(question=plan.question, answer=answer, at=now())
        await self.store.add_turn(plan.token_hash, turn, self.options.history_turns)
        quotes = await run_quick(supporting_quotes, answer, plan.sources)  # stemming: CPU
        return DoneEvent(
            answer=answer,
            citations=citations(answer, len(plan.sources)),
            quotes=quotes,
            pending=plan.pending,
            timings=Timings(
                retrieval_ms=plan.retrieval_ms,
                first_token_ms=plan.first_token_ms,
                total_ms=_ms(plan.started),
            ),
            usage=usage,
        )

    def _client_turns(self, history: list[Turn]) -> list[Turn]:
        """The last turns of a conversation the client sent; 422 past
        RAGSVC_MAX_HISTORY_CHARS."""
        limit, keep = self.options.max_history_chars, self.options.history_turns
        if sum(len(t.question) + len(t.answer) for t in history) > limit:
            raise InvalidInput(f"the conversation has more than {limit} characters")
        return history[-keep:] if keep else []

    async def find(
        self,
        index: SessionIndex,
        question: str,
        turns: list[Turn],
        top_k: int,
        wanted: frozenset[str] | None,
    ) -> Found:
        """A section's passages when the question names one that exists; else retrieval,
        with the document cards summarised for a global question."""
        section = requested_section(question)
        hits = section_hits(index, section, top_k, wanted) if section else []
        if hits:
            return Found(hits, frozenset(range(1, len(hits) + 1)))
        query = Query(
            question=question,
            # an earlier question is context, as long as a question may be at most
            previous_questions=tuple(t.question[: self.options.max_question_chars] for t in turns),
            top_k=top_k,
            document_ids=wanted,
            global_question=is_global_question(question),
            mode=self.options.retrieval,
            mmr_lambda=self.options.mmr_lambda,
        )
        hits = await retrieve(index, self.embedder, query)
        if query.global_question:
            cards = {n for n, hit in enumerate(hits, start=1) if hit.chunk.kind == "card"}
            return Found(hits, frozenset(cards))
        names = names_in(question)  # most questions name nothing: no thread hop then
        unmentioned = await run_quick(index.unknown, names) if names else []
        return Found(hits, frozenset(), tuple(unmentioned))


def checked_question(question: str, max_chars: int) -> str:
    """The question without surrounding blanks; 422 when empty or too long."""
    question = question.strip()
    if not question or len(question) > max_chars:
        raise InvalidInput(f"the question must have 1 to {max_chars} characters")
    return question


def wanted_documents(state: SessionState, document_ids: list[str] | None) -> frozenset[str] | None:
    """The documents a question is restricted to (None: all); 404 for one not in the session."""
    if not document_ids:
        return None
    wanted = frozenset(document_ids)
    if missing := wanted - state.documents.keys():
        raise DocumentNotFound(f"no document {sorted(missing)[0]!r} in this session")
    return wanted


def answerable_index(
    state: SessionState, wanted: frozenset[str] | None, embedder_name: str
) -> SessionIndex:
    """The session's index if a wanted document is in it (ready, or with the chunks embedded
    so far while it is ingested) and it was built by this embedder; else 409, saying
    whether the documents are still being ingested."""
    searchable = {d.id for d in state.documents.values() if _searchable(d)}
    if state.index is None or not (searchable & wanted if wanted else searchable):
        if still_ingesting(state, wanted):
            raise NoReadyDocuments(
                "the documents are still being ingested: ask again once they are ready "
                "(GET /documents/{id}/events tells when)"
            )
        raise NoReadyDocuments("upload a PDF with a text layer before asking")
    state.index.check_embedder(embedder_name)
    return state.index


def _searchable(document: Document) -> bool:
    return document.status == "ready" or (document.status == "processing" and document.chunks > 0)


def still_ingesting(state: SessionState, wanted: frozenset[str] | None) -> list[str]:
    """The documents asked about (all, without a filter) that are still `processing`."""
    return [
        d.id
        for d in state.documents.values()
        if d.status == "processing" and (wanted is None or d.id in wanted)
    ]


def numbered_sources(hits: list[Retrieved], documents: dict[str, Document]) -> list[Source]:
    """The hits as sources numbered from 1, which [n] markers in an answer refer to."""
    return [
        Source(
            n=n,
            document_id=hit.chunk.document_id,
            filename=documents[hit.chunk.document_id].filename,
            page=hit.chunk.page,
            score=round(hit.score, 5),
            text=hit.chunk.text,
            section=hit.chunk.section,
            language=hit.chunk.language,
        )
        for n, hit in enumerate(hits, start=1)
    ]


def failure_problem(exc: Exception) -> Problem:
    """What a client is told of a failure once its stream started; bugs are logged."""
    if not expected(exc):
        log.error("an answer failed", exc_info=exc)
    return problem_of(exc)


async def final_answer(events: AsyncIterator[AnswerEvent]) -> DoneEvent:
    """Run an answer to its end for a client that wants it whole: its `done` event, or its
    failure raised again as the same problem."""
    async for event in events:
        if isinstance(event, FailedEvent):
            raise ProblemRaised(event.problem)
        if isinstance(event, DoneEvent):
            return event
    raise ProblemRaised(problem(500, "the answer ended without a result"))


def answer_work(events: AsyncIterator[AnswerEvent]) -> Work[AnswerEvent]:
    """Background work writing an answer's events to its log; marks abandoned answers."""

    async def work(entry: EventLog[AnswerEvent]) -> None:
        try:
            async for event in events:
                entry.append(event)
        except anyio.get_cancelled_exc_class():
            entry.append(FailedEvent(AnswerAbandoned().problem()))
            raise
        except Exception as exc:  # recording the turn failed, say: the stream still ends
            entry.append(FailedEvent(failure_problem(exc)))
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]

    return work


def citations(answer: str, source_count: int) -> list[int]:
    """Source numbers cited by [n] markers, in order of first use, ignoring invalid ones."""
    cited = (int(m) for m in CITATION_MARKER.findall(answer))
    return list(dict.fromkeys(n for n in cited if 1 <= n <= source_count))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
