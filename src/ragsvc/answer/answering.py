"""Use case: a question (+ the session's recent turns) -> passages -> prompt -> generator ->
cited events. No web framework here.

An answer is admitted first (the session's budget of questions, room among the answers in
progress), then planned: everything that can fail as a plain HTTP error (the question, the
session's documents, retrieval, the generator's first piece) fails there, before the first
byte. Its events then stream, where a failure becomes a `FailedEvent`, run to their end for
a client that wants the answer whole, or written by a background task to the answer's event
log, which any number of connections follow (and resume with `Last-Event-ID`). An answer its
generator had whole when planned (the extractive one's) skips the task: its events are made
in the request, written to the log at once and sent as they are.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from ragsvc.answer.answer_events import (
    all_events,
    answer_events,
    answer_work,
    final_answer,
    ms_since,
    whole_answer_events,
)
from ragsvc.answer.generators import (
    Generator,
    composed_here,
    reads_history,
    whole_when_planned,
)
from ragsvc.answer.passages import (
    Found,
    answerable_index,
    find_passages,
    find_passages_here,
    numbered_sources,
    still_ingesting,
    wanted_documents,
)
from ragsvc.answer.plan import AnswerPlan
from ragsvc.answer.prompts import Prompt
from ragsvc.answer.question_shapes import is_follow_up, is_global_question
from ragsvc.core.errors import InvalidInput
from ragsvc.core.schemas import AskRequest, Turn, Usage
from ragsvc.search.embedders import Embedder, queries_embedded_here
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Mode, Query
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.storage.protocols import TurnStore
from ragsvc.storage.records import Conversation, SessionState
from ragsvc.streams.events import AnswerEvent, DoneEvent
from ragsvc.streams.log_hub import LogHub

log = logging.getLogger(__name__)
T = TypeVar("T")
ASKING = "asking"  # the rate limit's scope


@dataclass(frozen=True)
class AnswerOptions:
    """The settings answering reads, under their names in `Settings` (which holds the
    defaults): RAGSVC_MAX_QUESTION_CHARS, _MAX_HISTORY_CHARS, _HISTORY_TURNS, _TOP_K,
    _RETRIEVAL, _MMR_LAMBDA, _ASK_RATE_PER_MINUTE, _LOG_QUESTIONS."""

    max_question_chars: int
    max_history_chars: int
    history_turns: int
    top_k: int
    retrieval: Mode
    mmr_lambda: float
    ask_rate_per_minute: int
    log_questions: bool


@dataclass(frozen=True)
class Streaming:
    """An answer under way in the background: its plan, and its events as they come;
    `whole`: all its events, where they were made before it started (sent as one body)."""

    plan: AnswerPlan
    batches: AsyncIterator[list[tuple[int, AnswerEvent]]]
    whole: list[AnswerEvent] | None = None


@dataclass(frozen=True)
class Searched:
    """What an answer's read of its session settled: the state, the documents asked about,
    the turns it reads, the query, and its passages (None while still to find)."""

    state: SessionState
    wanted: frozenset[str] | None
    turns: list[Turn]
    index: SessionIndex
    query: Query
    found: Found | None


@dataclass(frozen=True)
class Asked:
    """A question admitted to be answered: its session, its text checked, when it came."""

    token_hash: str
    question: str
    started: float


@dataclass(frozen=True)
class Opening:
    """How an answer's generation began: the pieces still to come, the first one, and how
    long retrieval had taken before it."""

    pieces: AsyncIterator[str | Usage]
    first: str | Usage
    retrieval_ms: float


@dataclass(frozen=True)
class Resumed:
    """A kept answer picked up after an event: the events after it, or None when the
    answer had ended with that event (nothing more to send)."""

    answer_id: str
    batches: AsyncIterator[list[tuple[int, AnswerEvent]]] | None


@dataclass
class Answering:
    """Answers questions from a session's documents with the backends it is given."""

    store: TurnStore
    embedder: Embedder
    generator: Generator
    options: AnswerOptions
    answers: LogHub[AnswerEvent]  # answers in progress and kept, resumable
    limiter: RateLimiter
    observe: Callable[[AnswerEvent], None] = lambda event: None  # told of whole answers

    async def stream(
        self, token_hash: str, request: AskRequest, history: list[Turn] | None = None
    ) -> Streaming:
        """Admit, plan and start an answer in the background; its events follow."""
        await self._admit(token_hash, request.question)
        async with self.answers.reserve(token_hash) as room:
            answered = await self.answered_here(token_hash, request, history)
            if answered is None:
                plan = await self.plan(token_hash, request, history)
                if not whole_when_planned(self.generator):
                    entry = room.start(plan.answer_id, answer_work(self.events(plan)))
                    return Streaming(plan, self.answers.follow(entry, -1))
                answered = plan, await all_events(self.events(plan))
            # The answer is whole already: its events go out as they are, no task to wait
            # for and no log to read back; the log still gets them, to resume and to copy.
            plan, events = answered
            room.keep(plan.answer_id, events)
        return Streaming(plan, one_batch(events), whole=events)

    async def whole(
        self, token_hash: str, request: AskRequest, history: list[Turn] | None = None
    ) -> tuple[AnswerPlan, DoneEvent]:
        """Admit, plan and run an answer to its end (its failure raised as its problem)."""
        await self._admit(token_hash, request.question)
        async with self.answers.reserve(token_hash):
            answered = await self.answered_here(token_hash, request, history)
            if answered is None:
                plan = await self.plan(token_hash, request, history)
                done = await final_answer(self.events(plan))
            else:
                plan, done = answered[0], await final_answer(replayed(answered[1]))
            self.observe(done)
        return plan, done

    async def answered_here(
        self, token_hash: str, request: AskRequest, history: list[Turn] | None = None
    ) -> tuple[AnswerPlan, list[AnswerEvent]] | None:
        """An answer read, searched, composed and its turn recorded in one worker-thread
        hop (the store's), where the generator composes in a thread and the embedder runs
        in this process (the extractive default); None elsewhere. Failures before its
        first event are raised, as `plan`'s."""
        if composed_here(self.generator) is None or queries_embedded_here(self.embedder) is None:
            return None
        asked = self._asked(token_hash, request)
        answer = partial(self._answer_here, asked, request, history)
        return await self.store.read_conversation(
            token_hash, self._turns_to_read(asked.question, history), answer
        )

    async def resume(self, token_hash: str, answer_id: str, after: int) -> Resumed | None:
        """The rest of a kept answer (kept here, or copied to Redis by another replica)
        after event `after`; None when this session has no such answer kept."""
        found = await self.answers.locate(answer_id, token_hash)
        if found is None:
            return None
        if found.finished and after >= found.last_seq:
            return Resumed(answer_id, None)
        return Resumed(answer_id, self.answers.follow_located(found, after))

    async def _admit(self, token_hash: str, question: str) -> None:
        """Spend one of the session's questions (429 past RAGSVC_ASK_RATE_PER_MINUTE); the
        question's text is private, logged only where RAGSVC_LOG_QUESTIONS says so."""
        await self.limiter.check(ASKING, token_hash, self.options.ask_rate_per_minute)
        if self.options.log_questions:
            log.info("question", extra={"question": question})

    async def plan(
        self, token_hash: str, request: AskRequest, history: list[Turn] | None = None
    ) -> AnswerPlan:
        """Retrieve and start generating; failures here are plain HTTP errors, not events.
        `history` replaces the session's stored turns (a client that sends its conversation)."""
        asked = self._asked(token_hash, request)
        searched = await self.store.read_conversation(
            token_hash,
            self._turns_to_read(asked.question, history),
            partial(self._search_here, request, asked.question, history),
        )
        found = searched.found
        if found is None:  # an embedder behind a network: searched after its await
            found = await find_passages(searched.index, self.embedder, searched.query)
        prompt = self._prompt(asked.question, searched, found)
        retrieval_ms = ms_since(asked.started)
        pieces = self.generator.stream(prompt)
        first = await anext(pieces, "")  # an unreachable LLM becomes a 503 before the stream opens
        return self._plan(asked, searched, prompt, Opening(pieces, first, retrieval_ms))

    def _answer_here(
        self,
        asked: Asked,
        request: AskRequest,
        history: list[Turn] | None,
        conversation: Conversation,
    ) -> tuple[AnswerPlan, list[AnswerEvent]]:
        """In the store's worker thread, once it read the session: the answer's search,
        its composition, its events and its turn recorded."""
        searched = self._search_here(request, asked.question, history, conversation)
        compose = composed_here(self.generator)
        if searched.found is None or compose is None:  # answered_here checked both
            raise RuntimeError("an answer composed here needs its passages found here")
        prompt = self._prompt(asked.question, searched, searched.found)
        retrieval_ms = ms_since(asked.started)
        pieces = compose(prompt)
        opening = Opening(replayed([]), pieces[0] if pieces else "", retrieval_ms)
        plan = self._plan(asked, searched, prompt, opening)
        keep = self.options.history_turns
        record = partial(self.store.add_turn_blocking, asked.token_hash, keep=keep)
        return plan, whole_answer_events(plan, pieces, lambda turn: record(turn=turn))

    def _asked(self, token_hash: str, request: AskRequest) -> Asked:
        """The question admitted now; 422 when it is empty or too long."""
        started = time.perf_counter()
        question = checked_question(request.question, self.options.max_question_chars)
        return Asked(token_hash, question, started)

    @staticmethod
    def _prompt(question: str, searched: Searched, found: Found) -> Prompt:
        """The prompt of the passages found, numbered as the answer cites them."""
        sources = numbered_sources(found.hits, searched.state.documents)
        return Prompt(
            question,
            sources,
            searched.turns,
            summarise=found.summarise,
            unmentioned=found.unmentioned,
            question_vector=found.question_vector,
        )

    @staticmethod
    def _plan(asked: Asked, searched: Searched, prompt: Prompt, opening: Opening) -> AnswerPlan:
        """The plan of an answer whose generation began with `opening`."""
        return AnswerPlan(
            answer_id=uuid.uuid4().hex,
            token_hash=asked.token_hash,
            question=asked.question,
            sources=prompt.sources,
            prompt=prompt,
            pieces=opening.pieces,
            first=opening.first,
            started=asked.started,
            retrieval_ms=opening.retrieval_ms,
            first_token_ms=ms_since(asked.started),
            pending=still_ingesting(searched.state, searched.wanted),
        )

    def _search_here(
        self,
        request: AskRequest,
        question: str,
        history: list[Turn] | None,
        conversation: Conversation,
    ) -> Searched:
        """In the store's worker thread, once it read the session: the documents asked
        about, the turns, the query and, with an embedder in this process, the passages."""
        state = conversation.state
        wanted = wanted_documents(state, request.document_ids)
        index = answerable_index(state, wanted, self.embedder.name)
        turns = conversation.turns if history is None else self._client_turns(history)
        query = self._query(question, turns, request.top_k or self.options.top_k, wanted)
        embed = queries_embedded_here(self.embedder)
        found = None if embed is None else find_passages_here(index, embed, query)
        return Searched(state, wanted, turns, index, query, found)

    def events(self, plan: AnswerPlan) -> AsyncIterator[AnswerEvent]:
        """The planned answer's events; its turn is recorded before `done`."""

        async def record(turn: Turn) -> None:
            await self.store.add_turn(plan.token_hash, turn, self.options.history_turns)

        return answer_events(plan, record)

    def _turns_to_read(self, question: str, history: list[Turn] | None) -> int:
        """How many of the session's turns to read: none when the client sent its own, or
        when nothing would use them (a generator reading no history, and a question that
        is not a follow-up, searched on its own): parsing them cost a tenth of an answer."""
        if history is not None:
            return 0
        if reads_history(self.generator) or is_follow_up(question):
            return self.options.history_turns
        return 0

    def _query(
        self, question: str, turns: list[Turn], top_k: int, wanted: frozenset[str] | None
    ) -> Query:
        return Query(
            question=question,
            # an earlier question is context, as long as a question may be at most
            previous_questions=tuple(t.question[: self.options.max_question_chars] for t in turns)
            if is_follow_up(question)
            else (),
            top_k=top_k,
            document_ids=wanted,
            global_question=is_global_question(question),
            mode=self.options.retrieval,
            mmr_lambda=self.options.mmr_lambda,
        )

    def _client_turns(self, history: list[Turn]) -> list[Turn]:
        """The last turns of a conversation the client sent; 422 past
        RAGSVC_MAX_HISTORY_CHARS."""
        limit, keep = self.options.max_history_chars, self.options.history_turns
        if sum(len(t.question) + len(t.answer) for t in history) > limit:
            raise InvalidInput(f"the conversation has more than {limit} characters")
        return history[-keep:] if keep else []


async def replayed(events: list[T]) -> AsyncIterator[T]:
    """Events already made, as an iterator of them."""
    for event in events:
        yield event


async def one_batch(events: list[AnswerEvent]) -> AsyncIterator[list[tuple[int, AnswerEvent]]]:
    """An answer's events numbered from 0, in one batch (one write)."""
    yield list(enumerate(events))


def checked_question(question: str, max_chars: int) -> str:
    """The question without surrounding blanks; 422 when empty or too long."""
    question = question.strip()
    if not question or len(question) > max_chars:
        raise InvalidInput(f"the question must have 1 to {max_chars} characters")
    return question
