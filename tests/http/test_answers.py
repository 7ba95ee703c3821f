"""`POST /answers`: the whole answer as one JSON object whatever the request's Accept says,
for generated clients (whose `/ask` is the stream); `/ask` still answers JSON when asked."""

from __future__ import annotations

import httpx
import pytest

from ragsvc.core.schemas import Answer
from tests.support.apps import parse_sse

pytestmark = pytest.mark.anyio
PAGES = ["The harbour closes in November storms.", "Ferries resume in March."]
QUESTION = {"question": "When does the harbour close?"}


@pytest.fixture
async def ready(client: httpx.AsyncClient, session: dict[str, str], pdf) -> dict[str, str]:
    uploaded = await client.post("/upload", files={"files": ("h.pdf", pdf(PAGES))}, headers=session)
    assert uploaded.status_code == 201
    return session


@pytest.mark.parametrize("accept", [None, "text/event-stream", "*/*", "application/json"])
async def test_the_answer_is_json_whatever_the_accept(client, ready, accept: str | None):
    headers = {**ready, **({"Accept": accept} if accept else {})}
    reply = await client.post("/answers", json=QUESTION, headers=headers)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    answer = Answer.model_validate_json(reply.content)
    assert "November" in answer.answer and answer.citations == [1]
    assert answer.sources[0].filename == "h.pdf" and answer.sources[0].page == 1
    assert reply.headers["x-answer-id"]


async def test_it_is_the_answer_the_stream_gives(client, ready):
    whole = (await client.post("/answers", json=QUESTION, headers=ready)).json()
    streamed = parse_sse((await client.post("/ask", json=QUESTION, headers=ready)).text)
    assert streamed[-1]["event"] == "done"
    assert whole["answer"] in streamed[-1]["data"]
    asked = await client.post(
        "/ask", json=QUESTION, headers={**ready, "Accept": "application/json"}
    )
    assert asked.json()["answer"] == whole["answer"]  # /ask's JSON, kept for its clients


async def test_refusals_are_problems(client, session):
    unauthenticated = await client.post("/answers", json=QUESTION)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    nothing = await client.post("/answers", json=QUESTION, headers=session)
    assert nothing.status_code == 409
    assert nothing.headers["content-type"] == "application/problem+json"
