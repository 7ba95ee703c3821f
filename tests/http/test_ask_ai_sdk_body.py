"""POST /ask takes the body the Vercel AI SDK's `useChat` posts by default (its messages: the
last user one the question, the pairs before it the conversation), and refuses in a sentence
the SDK can show, while other clients keep problem+json."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.api.problems import PROBLEM_JSON
from ragsvc.core.config import Settings
from tests.support.apps import parse_sse
from tests.support.fakes import RecordingGenerator, fake_backends
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
PAGES = ["Barn owls hunt voles at night.", "Peregrine falcons stoop at three hundred km/h."]


def ui(role: str, text: str, n: int) -> dict[str, object]:
    """A UI message as useChat holds it."""
    return {"id": f"m{n}", "role": role, "parts": [{"type": "text", "text": text}]}


def sdk_body(*turns: tuple[str, str]) -> dict[str, object]:
    """What DefaultChatTransport posts when nothing prepares the request."""
    messages = [ui(role, text, n) for n, (role, text) in enumerate(turns)]
    return {"id": "chat1", "messages": messages, "trigger": "submit-message", "messageId": None}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingGenerator]]:
    settings = Settings(data_dir=tmp_path / "data")
    recorder = RecordingGenerator()
    backends = dataclasses.replace(fake_backends(settings), generator=recorder)
    app = create_app(settings, backends)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/rag")
        async with httpx.AsyncClient(transport=transport, base_url="http://test/rag") as client:
            files = {"files": ("birds.pdf", make_pdf(PAGES))}
            token = (await client.post("/upload", files=files)).json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            yield client, recorder
    await backends.store.aclose()


async def test_the_sdk_s_default_body_is_a_question_and_its_conversation(http):
    client, recorder = http
    body = sdk_body(
        ("system", "Be brief."),
        ("user", "What do barn owls hunt?"),
        ("assistant", "Voles [1]."),
        ("user", "And when?"),
    )
    reply = await client.post("/ask?format=ai-sdk", json=body)
    assert reply.status_code == 200, reply.text
    [prompt] = recorder.prompts
    assert prompt.question == "And when?"
    assert [(t.question, t.answer) for t in prompt.history] == [
        ("What do barn owls hunt?", "Voles [1].")
    ]
    chunks = [json.loads(f["data"]) for f in parse_sse(reply.text) if f["data"] != "[DONE]"]
    links = [c for c in chunks if c["type"] == "source-url"]
    document_id = links[0]["providerMetadata"]["ragsvc"]["documentId"]
    page = links[0]["providerMetadata"]["ragsvc"]["page"]
    assert links[0]["url"] == f"http://test/rag/documents/{document_id}/pages/{page}"


async def test_the_same_body_asks_for_a_whole_answer_too(http):
    client, _ = http
    body = sdk_body(("user", "What do barn owls hunt?"))
    reply = await client.post("/ask", json=body, headers={"Accept": "application/json"})
    assert reply.status_code == 200 and reply.json()["answer"] == "Noted [1]."


async def test_a_refusal_to_the_sdk_is_a_sentence_and_problem_json_to_others(http):
    client, _ = http
    body = sdk_body(("user", "What do owls hunt?"), ("assistant", "Voles."))
    refused = await client.post("/ask?format=ai-sdk", json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text == "the last message must be a user message with text"
    asked_for = {"Accept": PROBLEM_JSON}
    problem = await client.post("/ask?format=ai-sdk", json=body, headers=asked_for)
    assert problem.headers["content-type"] == PROBLEM_JSON
    assert problem.json()["detail"] == refused.text
    plain = await client.post("/ask", json=body)
    assert plain.headers["content-type"] == PROBLEM_JSON
    unauthenticated = await client.post(
        "/ask?format=ai-sdk", json=body, headers={"Authorization": "x"}
    )
    assert unauthenticated.status_code == 401
    assert unauthenticated.text == "the Authorization header must be 'Bearer <token>'"
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")


async def test_invalid_bodies_name_the_field_as_sent(http):
    client, _ = http
    missing = await client.post("/ask", json={"asked": "?"})
    assert missing.json()["detail"] == "body.question: Field required"
    bad_role = sdk_body(("robot", "hi"))
    wrong = await client.post("/ask?format=ai-sdk", json=bad_role)
    assert wrong.status_code == 422 and wrong.text.startswith("body.messages.0.role: ")
