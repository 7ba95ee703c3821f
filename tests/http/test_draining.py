"""Draining on shutdown (runtime/draining.py), through HTTP: once the drain begins (SIGTERM
in `ragsvc serve`; begun by hand here), the replica says it is not ready and starts no new
answer, an answer in flight finishes within the drain time, and one that runs past it ends
with an `error` event saying to ask again. tests/system/test_draining.py sends the signal."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_of, client_on, parse_sse
from tests.support.fakes import SlowGenerator, fake_backends

pytestmark = pytest.mark.anyio


async def _asked_while_draining(
    settings: Settings, pdf: Callable, generator: SlowGenerator
) -> list[dict]:
    """The events of an answer asked just before the drain began."""
    backends = fake_backends(settings)
    backends.generator = generator
    try:
        async with client_on(settings, backends) as http:
            up = await http.post("/upload", files={"files": ("a.pdf", pdf(["Bells ring."]))})
            headers = {"Authorization": f"Bearer {up.json()['token']}"}
            frames: list[dict] = []

            async def ask() -> None:
                reply = await http.post("/ask", json={"question": "bells?"}, headers=headers)
                frames.extend(parse_sse(reply.text))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(ask)
                while generator.sent == 0:
                    await anyio.sleep(0.01)
                app_of(http).state.ragsvc.drain.begin()
    finally:
        await backends.store.aclose()
    return [{"event": f["event"], **json.loads(f["data"])} for f in frames]


async def test_an_answer_in_flight_finishes_within_the_drain_time(settings, pdf):
    settings.drain_s = 5
    events = await _asked_while_draining(settings, pdf, SlowGenerator(words=6, pause=0.05))
    assert events[-1]["event"] == "done"
    assert events[-1]["answer"] == "".join(f"word{i} " for i in range(6))


async def test_an_answer_past_the_drain_time_ends_with_an_error_saying_to_ask_again(settings, pdf):
    settings.drain_s = 0.3
    generator = SlowGenerator(words=200, pause=0.05)  # 10 s
    events = await _asked_while_draining(settings, pdf, generator)
    assert events[-1]["event"] == "error"
    assert events[-1]["status"] == 503
    assert events[-1]["type"].endswith("shutting-down")
    assert "ask again" in events[-1]["detail"]
    assert generator.closed.is_set() and not generator.completed


async def test_a_draining_replica_is_not_ready_and_starts_no_new_answer(client, session, pdf):
    await client.post("/upload", files={"files": ("a.pdf", pdf(["Bells ring."]))}, headers=session)
    assert (await client.get("/readyz")).status_code == 200
    app_of(client).state.ragsvc.drain.begin()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["type"].endswith("shutting-down")
    for reply in (
        await client.post("/ask", json={"question": "bells?"}, headers=session),
        await client.get("/ask", params={"q": "bells?"}, headers=session),
        await client.post(
            "/upload?wait=false", files={"files": ("b.pdf", pdf(["More."]))}, headers=session
        ),
    ):
        assert reply.status_code == 503, reply.text
        assert reply.headers["retry-after"] == "1"
        assert reply.json()["type"].endswith("shutting-down")
