"""The answering use case without HTTP: each step of planning an answer on its own, then the
whole use case wired to a real disk store, the hashing embedder and the extractive generator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
import numpy as np
import pytest

from ragsvc.answer.answer_events import final_answer
from ragsvc.answer.answering import Answering, AnswerOptions, checked_question
from ragsvc.answer.citation_check import supporting_quotes
from ragsvc.answer.extractive import ExtractiveGenerator
from ragsvc.answer.passages import (
    answerable_index,
    find_passages,
    numbered_sources,
    wanted_documents,
)
from ragsvc.core import quick_threads
from ragsvc.core.clock import now
from ragsvc.core.config import Settings
from ragsvc.core.errors import (
    DocumentNotFound,
    IndexMismatch,
    InvalidInput,
    NoReadyDocuments,
    ProblemRaised,
    problem,
)
from ragsvc.core.schemas import AskRequest, Chunk, Document, Turn
from ragsvc.ingest.ingestion import Ingestion
from ragsvc.ingest.steps import IngestOptions, UploadedFile
from ragsvc.runtime.app_state import options
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Retrieved
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.storage.disk.store import DiskStore
from ragsvc.storage.records import SessionState
from ragsvc.streams.events import AnswerEvent, DoneEvent, FailedEvent, SourcesEvent, TokenEvent
from ragsvc.streams.log_hub import Limits, LogHub
from tests.support.fakes import HashEmbedder, RemoteHashEmbedder, SlowGenerator
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
TOKEN_HASH = "a" * 64


def document(doc_id: str, status: str = "ready") -> Document:
    return Document(
        id=doc_id,
        filename=f"{doc_id}.pdf",
        sha256=doc_id * 8,
        pages=1,
        chunks=1,
        status=status,  # type: ignore[arg-type]
        created_at=now(),
    )


def state_with(*documents: Document, embedder: str = "hash:128") -> SessionState:
    return SessionState({d.id: d for d in documents}, SessionIndex(embedder, 128))


def test_a_question_is_stripped_and_bounded():
    assert checked_question("  Why?  ", 10) == "Why?"
    for bad in ["", "   ", "x" * 11]:
        with pytest.raises(InvalidInput, match="1 to 10 characters"):
            checked_question(bad, 10)


def test_wanted_documents_must_belong_to_the_session():
    state = state_with(document("d1"), document("d2"))
    assert wanted_documents(state, None) is None
    assert wanted_documents(state, []) is None
    assert wanted_documents(state, ["d2"]) == frozenset({"d2"})
    with pytest.raises(DocumentNotFound, match="'elsewhere'"):
        wanted_documents(state, ["d1", "elsewhere"])


def test_an_answer_needs_a_ready_document_indexed_by_this_embedder():
    ready = state_with(document("d1"), document("d2", status="no_text"))
    assert answerable_index(ready, None, "hash:128") is ready.index
    with pytest.raises(NoReadyDocuments):
        answerable_index(ready, frozenset({"d2"}), "hash:128")  # only a document without text
    with pytest.raises(NoReadyDocuments):
        answerable_index(SessionState(), None, "hash:128")
    with pytest.raises(IndexMismatch):
        answerable_index(ready, None, "another-embedder")


def test_a_document_being_ingested_is_searched_once_it_has_chunks_indexed():
    partly = state_with(document("d1", status="processing"))
    assert answerable_index(partly, None, "hash:128") is partly.index
    partly = partly.documents["d1"]
    with pytest.raises(NoReadyDocuments, match="still being ingested"):
        answerable_index(state_with(partly.model_copy(update={"chunks": 0})), None, "hash:128")


def test_sources_are_numbered_from_one_with_their_document_and_page():
    chunk = Chunk(id=7, document_id="d1", page=4, text="Owls hunt.", section="2 Owls")
    [source] = numbered_sources([Retrieved(chunk, 0.1234567)], {"d1": document("d1")})
    assert (source.n, source.filename, source.page, source.section) == (1, "d1.pdf", 4, "2 Owls")
    assert source.score == 0.12346


async def events_of(*events: AnswerEvent) -> AsyncIterator[AnswerEvent]:
    for event in events:
        yield event


async def test_final_answer_raises_a_failure_as_the_same_problem():
    failure = problem(503, "the LLM went away")
    with pytest.raises(ProblemRaised) as raised:
        await final_answer(events_of(SourcesEvent([]), TokenEvent("a"), FailedEvent(failure)))
    assert raised.value.problem() == failure
    with pytest.raises(ProblemRaised) as raised:
        await final_answer(events_of(SourcesEvent([])))  # ended without a result
    assert raised.value.status == 500


PAGES = [
    "Barn owls hunt voles at night using their acute hearing.",
    "Peregrine falcons stoop at over three hundred km per hour.",
]


@pytest.fixture
async def session(tmp_path: Path) -> tuple[Ingestion, Answering]:
    store, embedder = DiskStore(tmp_path), HashEmbedder()
    await store.create_session(TOKEN_HASH, timedelta(hours=1))
    ingestion = Ingestion(store, embedder, None, options(Settings(), IngestOptions))
    generator = ExtractiveGenerator(embedder)
    hub: LogHub[AnswerEvent] = LogHub(60, 5, Limits(8, 8))
    answer_options = options(Settings(), AnswerOptions)
    answering = Answering(store, embedder, generator, answer_options, hub, RateLimiter())
    await ingestion.ingest_files(TOKEN_HASH, [UploadedFile("birds.pdf", make_pdf(PAGES))])
    return ingestion, answering


async def test_the_use_case_answers_from_the_right_page_and_remembers_the_turn(session):
    _, answering = session
    plan = await answering.plan(TOKEN_HASH, AskRequest(question="How fast do falcons stoop?"))
    done = await final_answer(answering.events(plan))
    cited = [plan.sources[n - 1] for n in done.citations]
    assert cited and all(source.page == 2 for source in cited)
    assert "three hundred km" in done.answer
    [turn] = await answering.store.turns(TOKEN_HASH, keep=6)
    assert turn.answer == done.answer


async def test_a_global_question_is_answered_by_summarising_the_document_card(session):
    _, answering = session
    index = (await answering.store.load_state(TOKEN_HASH)).index
    query = answering._query("What is this document about?", [], 5, None)
    found = await find_passages(index, answering.embedder, query)
    assert found.hits[0].chunk.kind == "card" and found.summarise == {1}
    query = answering._query("How fast do falcons stoop?", [], 5, None)
    specific = await find_passages(index, answering.embedder, query)
    assert specific.summarise == frozenset()


async def test_only_a_follow_up_is_searched_with_the_turn_before(session):
    _, answering = session
    turns = [Turn(question="How fast do falcons stoop?", answer="Fast [1].", at=now())]
    fresh = answering._query("What do barn owls hunt?", turns, 5, None)
    follow_up = answering._query("and how does that compare?", turns, 5, None)
    assert fresh.texts == ["What do barn owls hunt?"]
    assert follow_up.texts == [
        "and how does that compare?",
        "How fast do falcons stoop? and how does that compare?",
    ]


async def test_the_questions_search_vector_reaches_the_prompt_on_either_path(session):
    _, answering = session
    request = AskRequest(question="How fast do falcons stoop?")
    expected = answering.embedder.embed_sync([request.question])[0]
    planned = await answering.plan(TOKEN_HASH, request)
    answered = await answering.answered_here(TOKEN_HASH, request)
    assert answered is not None
    for plan in (planned, answered[0]):
        assert plan.prompt.question_vector is not None
        assert np.array_equal(plan.prompt.question_vector, expected)


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """The functions sent to a worker thread, in order (a hop costs CPU: 50-180 µs)."""
    sent: list[str] = []
    real_run_sync, real_submit = anyio.to_thread.run_sync, quick_threads.THREADS.submit

    async def counted(func, *args, **kwargs):
        sent.append(func.__name__)
        return await real_run_sync(func, *args, **kwargs)

    def submitted(job: quick_threads.Job) -> None:
        sent.append(job.func.__name__)
        real_submit(job)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    monkeypatch.setattr(quick_threads.THREADS, "submit", submitted)
    return sent


async def test_planning_an_answer_reads_the_session_and_searches_it_in_one_thread_hop(
    session, hops
):
    # the state, the turns, the question embedded, the search and the names no chunk holds
    _, answering = session
    question = AskRequest(question="How fast do Gyrfalcons stoop?")
    plan = await answering.plan(TOKEN_HASH, question)
    assert hops == ["load"]
    assert plan.prompt.unmentioned == ("Gyrfalcons",)
    assert [s.page for s in plan.sources][:1] == [2]


async def test_an_embedder_behind_a_network_is_awaited_between_reading_and_searching(session, hops):
    _, answering = session
    question = AskRequest(question="How fast do Gyrfalcons stoop?")
    here = await answering.plan(TOKEN_HASH, question)
    hops.clear()
    answering.embedder = RemoteHashEmbedder()
    remote = await answering.plan(TOKEN_HASH, question)
    assert hops == ["load", "_ranked"]  # never its awaited call inside the store's thread
    assert remote.sources == here.sources and remote.prompt.unmentioned == ("Gyrfalcons",)


async def test_an_extractive_answer_is_quoted_without_a_thread_hop(session, hops):
    # its sentences are its sources' own: found where they stand, as matching would find them
    _, answering = session
    plan = await answering.plan(TOKEN_HASH, AskRequest(question="How fast do falcons stoop?"))
    hops.clear()
    done = await final_answer(answering.events(plan))
    assert hops == ["add_turn_blocking"]  # recording the turn, the one step left after planning
    assert done.quotes and done.quotes == supporting_quotes(done.answer, plan.sources)


async def test_turns_are_read_only_where_the_answer_or_its_search_uses_them(session):
    _, answering = session
    plan = await answering.plan(TOKEN_HASH, AskRequest(question="How fast do falcons stoop?"))
    await final_answer(answering.events(plan))
    # the extractive generator reads no history: a question on its own reads no turns
    fresh = await answering.plan(TOKEN_HASH, AskRequest(question="What do barn owls hunt?"))
    assert fresh.prompt.history == []
    follow_up = await answering.plan(TOKEN_HASH, AskRequest(question="and owls?"))
    assert [t.question for t in follow_up.prompt.history] == ["How fast do falcons stoop?"]
    # a generator that reads history (any LLM) gets the turns with every question
    answering.generator = SlowGenerator(words=2, pause=0)
    llm = await answering.plan(TOKEN_HASH, AskRequest(question="What do barn owls hunt?"))
    assert [t.question for t in llm.prompt.history] == ["How fast do falcons stoop?"]


async def test_an_answer_whole_when_planned_goes_out_in_one_batch_and_stays_resumable(session):
    # no background task to wait for, no log to read back; the log still has every event
    _, answering = session
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(answering.answers.run, tasks)
        request = AskRequest(question="How fast do falcons stoop?")
        started = await answering.stream(TOKEN_HASH, request)
        batches = [batch async for batch in started.batches]
        assert len(batches) == 1
        [(seq, first), *_, (last_seq, done)] = batches[0]
        assert (seq, type(first), type(done)) == (0, SourcesEvent, DoneEvent)
        assert "three hundred km" in done.answer
        resumed = await answering.resume(TOKEN_HASH, started.plan.answer_id, 0)
        assert resumed is not None and resumed.batches is not None
        rest = [event async for batch in resumed.batches for _, event in batch]
        assert rest == [event for _, event in batches[0][1:]]
        tasks.cancel_scope.cancel()


async def test_an_extractive_answer_is_read_searched_composed_and_recorded_in_one_hop(
    session, hops
):
    _, answering = session
    request = AskRequest(question="How fast do falcons stoop?")
    answered = await answering.answered_here(TOKEN_HASH, request)
    assert hops == ["load"]  # the store's: the read, and all the rest in its thread
    assert answered is not None
    plan, events = answered
    # the events the planned path makes, but for the timings
    hops.clear()
    planned = await answering.plan(TOKEN_HASH, request)
    expected = [event async for event in answering.events(planned)]
    assert [type(e) for e in events] == [type(e) for e in expected]
    assert events[1:-1] == expected[1:-1] and events[0] == expected[0]
    done, expected_done = events[-1], expected[-1]
    assert isinstance(done, DoneEvent) and isinstance(expected_done, DoneEvent)
    assert (done.answer, done.citations, done.quotes) == (
        expected_done.answer,
        expected_done.citations,
        expected_done.quotes,
    )
    turns = await answering.store.turns(TOKEN_HASH, keep=6)
    assert [t.answer for t in turns] == [done.answer, done.answer]  # recorded before done


async def test_an_answer_is_composed_in_a_thread_only_where_its_backends_run_here(session):
    _, answering = session
    request = AskRequest(question="How fast do falcons stoop?")
    answering.embedder = RemoteHashEmbedder()
    assert await answering.answered_here(TOKEN_HASH, request) is None
    answering.embedder = HashEmbedder()
    answering.generator = SlowGenerator(words=2, pause=0)  # an LLM streams as it generates
    assert await answering.answered_here(TOKEN_HASH, request) is None


async def test_a_turn_that_cannot_be_recorded_ends_an_answer_composed_here_with_failed(
    session, monkeypatch
):
    _, answering = session

    def full_disk(token_hash: str, turn: Turn, keep: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(answering.store, "add_turn_blocking", full_disk)
    answered = await answering.answered_here(TOKEN_HASH, AskRequest(question="Falcons?"))
    assert answered is not None
    *tokens, failed = answered[1]
    assert isinstance(failed, FailedEvent) and failed.problem.status == 507
    assert isinstance(tokens[0], SourcesEvent) and all(
        isinstance(t, TokenEvent) for t in tokens[1:]
    )


async def test_answers_writing_the_same_word_share_its_token_event(session):
    # thousands of kept answers would otherwise hold one object per word each
    _, answering = session
    request = AskRequest(question="How fast do falcons stoop?")
    first = await answering.answered_here(TOKEN_HASH, request)
    second = await answering.answered_here(TOKEN_HASH, request)
    assert first is not None and second is not None
    tokens = [[e for e in events if isinstance(e, TokenEvent)] for _, events in (first, second)]
    assert tokens[0] and all(a is b for a, b in zip(*tokens, strict=True))
