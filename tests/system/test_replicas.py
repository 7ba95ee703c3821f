"""Replicas sharing Redis (RAGSVC_REDIS_URL): an answer resumes on another replica without
being generated again, an answer whose replica died ends with `generation-lost`, rate limits
count across replicas, and `serve --workers N` needs Redis."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from ragsvc.cli import app as cli
from ragsvc.core.config import Settings
from ragsvc.sessions.session_tokens import hash_token
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import AnswerEvent, SourcesEvent, TokenEvent
from ragsvc.streams.redis_copies import ALIVE_FOR_S, RedisLogCopies
from tests.support.apps import app_client, app_of, parse_sse
from tests.support.pdfs import make_pdf
from tests.support.server import free_port, server_process

pytestmark = pytest.mark.anyio
PAGES = ["Herons hunt fish in shallow water at dawn.", "Kingfishers dive from perches."]


@asynccontextmanager
async def replicas(settings: Settings, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` apps on one data directory and one Redis, as replicas behind a balancer."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(app_client(settings)) for _ in range(count)]


async def upload(http: httpx.AsyncClient) -> dict[str, str]:
    reply = await http.post("/upload", files={"files": ("b.pdf", make_pdf(PAGES))})
    assert reply.status_code == 201, reply.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def wait_copied(http: httpx.AsyncClient, answer_id: str, token: str) -> None:
    """Until the answer's copy in Redis has its end (a client's retry takes a second)."""
    answers = app_of(http).state.ragsvc.answers
    with anyio.fail_after(5):
        while not ((found := await answers.locate(answer_id, token)) and found.finished):
            await anyio.sleep(0.02)


async def test_an_answer_resumes_on_another_replica_without_a_second_generation(
    tmp_path: Path, redis_url: str
):
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url)
    async with replicas(settings, 2) as (a, b):
        who = await upload(a)
        first = await a.post("/ask", json={"question": "When do herons hunt?"}, headers=who)
        answer_id, frames = first.headers["x-answer-id"], parse_sse(first.text)
        await wait_copied(b, answer_id, hash_token(who["Authorization"][7:]))
        resumed = await b.post(
            "/ask",
            json={"question": "When do herons hunt?"},
            headers={**who, "Last-Event-ID": f"{answer_id}:1"},
        )
        assert resumed.status_code == 200
        assert resumed.headers["x-answer-id"] == answer_id  # the same answer, not a new one
        rest = parse_sse(resumed.text)
        assert [(f["id"], f["event"], f["data"]) for f in rest] == [
            (f["id"], f["event"], f["data"]) for f in frames[2:]
        ]
        last = {**who, "Last-Event-ID": frames[-1]["id"]}
        assert (await b.post("/ask", json={"question": "x"}, headers=last)).status_code == 204


async def test_a_resumed_answer_whose_replica_died_ends_with_generation_lost(
    tmp_path: Path, redis_url: str
):
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url)
    async with replicas(settings, 1) as (b,):
        who = await upload(b)
        owner = hash_token(who["Authorization"][7:])
        # The replica that was answering: it copied two events, then died (no end, and no
        # one says it is alive any more).
        entry: EventLog[AnswerEvent] = EventLog("dead-answer", owner)
        entry.append(SourcesEvent([]))
        entry.append(TokenEvent("Herons "))
        redis = Redis.from_url(redis_url)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(RedisLogCopies(redis, "answer", 60).publish, entry)
            await anyio.sleep(0.3)
            tasks.cancel_scope.cancel()
        await redis.aclose()
        started = time.monotonic()
        with anyio.fail_after(ALIVE_FOR_S + 5):
            resumed = await b.post(
                "/ask", json={"question": "x"}, headers={**who, "Last-Event-ID": "dead-answer:0"}
            )
        frames = parse_sse(resumed.text)
        assert [f["event"] for f in frames] == ["token", "error"]
        assert [f["id"] for f in frames] == ["dead-answer:1", "dead-answer:2"]
        problem = json.loads(frames[-1]["data"])
        assert problem["status"] == 503 and problem["type"].endswith("generation-lost")
        assert time.monotonic() - started < ALIVE_FOR_S + 3


async def test_rate_limits_count_across_replicas(tmp_path: Path, redis_url: str):
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, ask_rate_per_minute=2)
    async with replicas(settings, 2) as (a, b):
        who = await upload(a)
        for http in (a, b):
            ok = await http.post("/ask", json={"question": "herons?"}, headers=who)
            assert ok.status_code == 200
        refused = await b.post("/ask", json={"question": "herons?"}, headers=who)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert (await a.post("/ask", json={"question": "herons?"}, headers=who)).status_code == 429


class HeldGenerator:
    """Says one word, then waits for `release`: an answer that stays in progress."""

    def __init__(self) -> None:
        self.release = anyio.Event()

    async def stream(self, prompt: object) -> AsyncIterator[str]:
        yield "Herons "
        await self.release.wait()
        yield "hunt at dawn."


async def test_a_sessions_answers_in_progress_count_on_every_replica(
    tmp_path: Path, redis_url: str
):
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, max_answers_per_session=1)
    async with replicas(settings, 2) as (a, b):
        who = await upload(a)
        owner = hash_token(who["Authorization"][7:])
        held = HeldGenerator()
        app_of(a).state.ragsvc.answering.generator = held
        redis = Redis.from_url(redis_url)
        shared = RedisLogCopies(redis, "answer", 60)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(partial(a.post, "/ask", json={"question": "herons?"}, headers=who))
            with anyio.fail_after(5):  # A's answer runs, and Redis knows it
                while await shared.running(owner) < 1:
                    await anyio.sleep(0.02)
            refused = await b.post("/ask", json={"question": "herons?"}, headers=who)
            held.release.set()
        with anyio.fail_after(5):  # ended: counted no more
            while await shared.running(owner) > 0:
                await anyio.sleep(0.02)
        await redis.aclose()
        assert refused.status_code == 429, refused.text
        assert refused.json()["type"].endswith("too-much-in-progress")
        again = await b.post("/ask", json={"question": "herons?"}, headers=who)
        assert again.status_code == 200


async def test_redis_down_is_a_503_naming_it(tmp_path: Path):
    """Nothing listens at that port: requests that need Redis get 503 problem+json, and
    /readyz says why, where an unhandled Redis error was a 500."""
    settings = Settings(data_dir=tmp_path / "data", redis_url=f"redis://127.0.0.1:{free_port()}")
    async with app_client(settings) as http:
        created = await http.post("/sessions")
        ready = await http.get("/readyz")
    for reply in (created, ready):
        assert reply.status_code == 503, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert "RAGSVC_REDIS_URL" in reply.json()["detail"]


def test_several_workers_without_redis_are_refused_at_start(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RAGSVC_REDIS_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "RAGSVC_REDIS_URL" in result.output


@pytest.mark.slow
def test_resumes_under_several_workers_continue_the_same_answer(
    tmp_path: Path, redis_url: str, pdf: Callable[..., bytes]
):
    """Each resume is a new connection, which either worker process may accept."""
    with server_process(tmp_path / "data", "--workers", "2", RAGSVC_REDIS_URL=redis_url) as (
        base,
        _,
    ):
        up = httpx.post(f"{base}/upload", files={"files": ("b.pdf", pdf(PAGES))}, timeout=60)
        who = {"Authorization": f"Bearer {up.json()['token']}"}
        for _ in range(8):
            with httpx.Client(base_url=base, headers=who, timeout=30) as fresh:
                first = fresh.post("/ask", json={"question": "When do herons hunt?"})
                answer_id = first.headers["x-answer-id"]
            time.sleep(1.1)  # the client's retry delay: the copy is in Redis by then
            with httpx.Client(base_url=base, headers=who, timeout=30) as fresh:
                resumed = fresh.post(
                    "/ask", json={"question": "x"}, headers={"Last-Event-ID": f"{answer_id}:0"}
                )
            assert resumed.status_code == 200
            assert resumed.headers["x-answer-id"] == answer_id
            assert parse_sse(resumed.text)[0]["id"] == f"{answer_id}:1"
