"""Use case: a question (+ the session's recent turns) -> retrieval -> prompt -> generation
-> typed events (sources, tokens, done or failed). No FastAPI here."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from ragsvc.backends import Backends
from ragsvc.config import Settings
from ragsvc.errors import (
    AnswerAbandoned,
    DocumentNotFound,
    InvalidInput,
    NoReadyDocuments,
    RagError,
    problem,
)
from ragsvc.eventlog import EventLog, Work
from ragsvc.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from ragsvc.prompts import Prompt
from ragsvc.retrieval import is_global_question, requested_section, retrieve, section_hits
from ragsvc.schemas import AskRequest, Source, Timings, Turn
from ragsvc.store import now

log = logging.getLogger(__name__)
CITATION_MARKER = re.compile(r"\[(\d+)\]")  # an answer's "[n]", naming source n


@dataclass
class AnswerPlan:
    """Everything settled before the first byte: sources found, generation under way."""

    answer_id: str
    token_hash: str
    question: str
    sources: list[Source]
    pieces: AsyncIterator[str]
    first: str
    started: float
    retrieval_ms: float
    first_token_ms: float


async def plan_answer(
    backends: Backends,
    settings: Settings,
    token_hash: str,
    request: AskRequest,
    history: list[Turn] | None = None,
) -> AnswerPlan:
    """Retrieve and start generating; failures here are plain HTTP errors, not events.
    `history` replaces the session's stored turns (a client that sends its conversation)."""
    started = time.perf_counter()
    question = request.question.strip()
    if not question or len(question) > settings.max_question_chars:
        raise InvalidInput(f"the question must have 1 to {settings.max_question_chars} characters")
    state = await backends.store.load_state(token_hash)
    wanted = set(request.document_ids) if request.document_ids else None
    if wanted and (missing := wanted - state.documents.keys()):
        raise DocumentNotFound(f"no document {sorted(missing)[0]!r} in this session")
    ready = {d.id for d in state.documents.values() if d.status == "ready"}
    if state.index is None or not (ready & wanted if wanted else ready):
        raise NoReadyDocuments("upload a PDF with a text layer before asking")
    state.index.check_embedder(backends.embedder.name)
    if history is None:
        history = await backends.store.turns(token_hash)
    turns = history[-settings.history_turns :] if settings.history_turns else []
    top_k = request.top_k or settings.top_k
    global_question = is_global_question(question)
    section = requested_section(question)
    hits = section_hits(state.index, section, top_k, wanted) if section else []
    summarise = {n for n, h in enumerate(hits, start=1)}  # a section summary, if any
    if not hits:
        hits = await retrieve(
            state.index,
            backends.embedder,
            question,
            [t.question for t in turns],
            top_k,
            wanted,
            global_question,
            settings.retrieval,
            settings.mmr_lambda,
        )
        cards = {n for n, h in enumerate(hits, start=1) if h.chunk.kind == "card"}
        summarise = cards if global_question else set()
    retrieval_ms = _ms(started)
    sources = [
        Source(
            n=n,
            document_id=hit.chunk.document_id,
            filename=state.documents[hit.chunk.document_id].filename,
            page=hit.chunk.page,
            score=round(hit.score, 5),
            text=hit.chunk.text,
            section=hit.chunk.section,
        )
        for n, hit in enumerate(hits, start=1)
    ]
    prompt = Prompt(
        question=question,
        sources=sources,
        history=turns,
        global_question=bool(summarise),
        overview_numbers=frozenset(summarise),
    )
    pieces = backends.generator.stream(prompt)
    first = await anext(pieces, "")  # an unreachable LLM becomes a 503 before the stream opens
    return AnswerPlan(
        answer_id=uuid.uuid4().hex,
        token_hash=token_hash,
        question=question,
        sources=sources,
        pieces=pieces,
        first=first,
        started=started,
        retrieval_ms=retrieval_ms,
        first_token_ms=_ms(started),
    )


async def answer_events(
    plan: AnswerPlan, backends: Backends, settings: Settings
) -> AsyncIterator[AnswerEvent]:
    """Sources, tokens, then done (turn recorded) or failed; closes the generator either way."""
    yield SourcesEvent(plan.sources)
    parts = [plan.first] if plan.first else []
    try:
        if plan.first:
            yield TokenEvent(plan.first)
        async for piece in plan.pieces:
            parts.append(piece)
            yield TokenEvent(piece)
    except RagError as exc:
        yield FailedEvent(exc.problem())
        return
    except Exception:
        log.exception("generation failed")
        yield FailedEvent(problem(500, "generation failed unexpectedly; see the server log"))
        return
    finally:
        with anyio.CancelScope(shield=True):  # runs on client disconnect too
            await plan.pieces.aclose()  # type: ignore[attr-defined]
    answer = "".join(parts)
    turn = Turn(question=plan.question, answer=answer, at=now())
    await backends.store.add_turn(plan.token_hash, turn, settings.history_turns)
    yield DoneEvent(
        answer=answer,
        citations=citations(answer, len(plan.sources)),
        timings=Timings(
            retrieval_ms=plan.retrieval_ms,
            first_token_ms=plan.first_token_ms,
            total_ms=_ms(plan.started),
        ),
    )


def answer_work(events: AsyncIterator[AnswerEvent]) -> Work[AnswerEvent]:
    """Background work writing an answer's events to its log; marks abandoned answers."""

    async def work(entry: EventLog[AnswerEvent]) -> None:
        try:
            async for event in events:
                entry.append(event)
        except anyio.get_cancelled_exc_class():
            entry.append(FailedEvent(AnswerAbandoned().problem()))
            raise
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
