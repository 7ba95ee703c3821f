"""An answer's events, once planned: its sources, its tokens as the generator yields them,
then `done` (the turn recorded, each [n]'s quote found) or `failed`; and the two ways to
consume them: whole (a JSON client) or written to an event log by a background task, or,
for an answer known whole when planned, written at once and sent as they are."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from ragsvc.answer.citation_check import supporting_quotes, verbatim_quotes
from ragsvc.answer.plan import AnswerPlan
from ragsvc.answer.prompts import says_not_found
from ragsvc.core.clock import now
from ragsvc.core.errors import AnswerAbandoned, ProblemRaised, expected, problem, problem_of
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import Problem, Quote, Timings, Turn, Usage
from ragsvc.streams.event_log import EventLog, Work
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, token_event
from ragsvc.text.citation_markers import cited_numbers

log = logging.getLogger(__name__)
RecordTurn = Callable[[Turn], Awaitable[None]]


async def answer_events(plan: AnswerPlan, record: RecordTurn) -> AsyncIterator[AnswerEvent]:
    """Sources, tokens, then done (turn recorded) or failed; closes the generator either way."""
    yield SourcesEvent(plan.sources)
    first = plan.first
    parts = [first] if isinstance(first, str) and first else []
    usage = first if isinstance(first, Usage) else None
    try:
        if parts:
            yield token_event(parts[0])
        async for piece in plan.pieces:
            if isinstance(piece, Usage):  # a backend's count, after the last piece
                usage = piece
                continue
            parts.append(piece)
            yield token_event(piece)
    except Exception as exc:
        yield FailedEvent(failure_problem(exc))
        return
    finally:
        with anyio.CancelScope(shield=True):  # runs on client disconnect too
            await plan.pieces.aclose()  # type: ignore[attr-defined]
    yield await _done(plan, "".join(parts), usage, record)


async def _done(
    plan: AnswerPlan, answer: str, usage: Usage | None, record: RecordTurn
) -> DoneEvent:
    """Record the turn, then the answer's last event."""
    quotes = verbatim_quotes(answer, plan.sources)  # an extractive answer's: its sources' own
    if quotes is None:
        quotes = await run_quick(supporting_quotes, answer, plan.sources)  # stemming: CPU
    await record(_turn(plan, answer, quotes))
    return _done_event(plan, answer, usage, quotes)


def whole_answer_events(
    plan: AnswerPlan, pieces: list[str], record: Callable[[Turn], None]
) -> list[AnswerEvent]:
    """The events of an answer composed whole in a worker thread, made there: what
    `answer_events` yields for it, the turn recorded by `record` (blocking) before `done`,
    a failure to record it ending them with `failed`."""
    answer = "".join(pieces)
    events: list[AnswerEvent] = [SourcesEvent(plan.sources)]
    events += [token_event(piece) for piece in pieces if piece]
    try:
        quotes = verbatim_quotes(answer, plan.sources)
        if quotes is None:
            quotes = supporting_quotes(answer, plan.sources)
        record(_turn(plan, answer, quotes))
    except Exception as exc:
        return [*events, FailedEvent(failure_problem(exc))]
    return [*events, _done_event(plan, answer, None, quotes)]


def _turn(plan: AnswerPlan, answer: str, quotes: list[Quote]) -> Turn:
    return Turn(
        question=plan.question, answer=answer, at=now(), sources=plan.sources, quotes=quotes
    )


def _done_event(
    plan: AnswerPlan, answer: str, usage: Usage | None, quotes: list[Quote]
) -> DoneEvent:
    return DoneEvent(
        answer=answer,
        citations=citations(answer, len(plan.sources)),
        quotes=quotes,
        pending=plan.pending,
        found=not says_not_found(answer),
        timings=Timings(
            retrieval_ms=plan.retrieval_ms,
            first_token_ms=plan.first_token_ms,
            total_ms=ms_since(plan.started),
        ),
        usage=usage,
    )


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
    """Background work writing an answer's events to its log; an answer cancelled ends with
    why: abandoned by its clients, or stopped by a shutdown (`entry.stopped_by`)."""

    async def work(entry: EventLog[AnswerEvent]) -> None:
        try:
            async for event in events:
                entry.append(event)
        except anyio.get_cancelled_exc_class():
            entry.append(FailedEvent(problem_of(entry.stopped_by or AnswerAbandoned())))
            raise
        except Exception as exc:  # recording the turn failed, say: the stream still ends
            entry.append(FailedEvent(failure_problem(exc)))
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()  # type: ignore[attr-defined]

    return work


async def all_events(events: AsyncIterator[AnswerEvent]) -> list[AnswerEvent]:
    """Every event of an answer whose generator had it whole when planned (no wait between
    its pieces): what `answer_work` would write, a failure to record the turn included."""
    collected: list[AnswerEvent] = []
    try:
        async for event in events:
            collected.append(event)
    except Exception as exc:
        collected.append(FailedEvent(failure_problem(exc)))
    finally:
        with anyio.CancelScope(shield=True):
            await events.aclose()  # type: ignore[attr-defined]
    return collected


def citations(answer: str, source_count: int) -> list[int]:
    """Source numbers cited by [n] markers, in order of first use, ignoring invalid ones."""
    return list(dict.fromkeys(n for n in cited_numbers(answer) if 1 <= n <= source_count))


def ms_since(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
