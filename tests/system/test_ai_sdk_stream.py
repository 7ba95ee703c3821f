"""`/ask?format=ai-sdk`: the answer in the Vercel AI SDK's UI message stream protocol, read by
that SDK itself (its Chat, which useChat wraps, over DefaultChatTransport with the default
request body: tests/js/ai_sdk_chat.mjs, under Node), and checked frame by frame here."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.apps import app_client, parse_sse
from tests.support.fakes import fake_backends
from tests.support.paths import JS
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread
from tests.support.services import unavailable

PAGES = [
    "Barn owls hunt voles at night using their acute hearing.",
    "Peregrine falcons stoop at over three hundred km per hour.",
]
QUESTION = "What do barn owls hunt?"


@pytest.mark.anyio
async def test_the_frames_are_the_sdk_s_chunks_for_the_same_answer(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data")
    async with app_client(settings) as http:
        files = {"files": ("birds.pdf", make_pdf(PAGES))}
        token = (await http.post("/upload", files=files)).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        reply = await http.get("/ask", params={"q": QUESTION, "format": "ai-sdk"}, headers=auth)
        plain = await http.get("/ask", params={"q": QUESTION}, headers=auth)
    assert reply.headers["x-vercel-ai-ui-message-stream"] == "v1"
    frames = parse_sse(reply.text)
    assert frames[-1] == {"data": "[DONE]"}
    chunks = [json.loads(frame["data"]) for frame in frames[:-1]]
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds[0] == "start" and kinds[-3:] == ["text-end", "data-done", "finish"]
    assert kinds.index("source-document") < kinds.index("text-start") < kinds.index("text-delta")
    text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
    done = json.loads(parse_sse(plain.text)[-1]["data"])
    assert text == done["answer"] and "voles" in text  # the same answer, another rendering
    assert chunks[-2]["data"]["citations"] == done["citations"]
    assert all(frame["id"].startswith(reply.headers["x-answer-id"]) for frame in frames[:-1])


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None or not (JS / "node_modules" / "ai").is_dir():
        unavailable("Node.js and the AI SDK (tests/js) are not installed", "make js-deps")
    return str(found)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("ai-sdk") / "data")
    with serving_in_thread(create_app(settings, fake_backends(settings))) as base:
        yield base


def chat(node: str, base: str, token: str, *questions: str) -> dict[str, Any]:
    """The chat's state after asking `questions` in turn: status, error, messages."""
    script = str(JS / "ai_sdk_chat.mjs")
    done = subprocess.run(
        [node, script, base, token, *questions], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    state: dict[str, Any] = json.loads(done.stdout)
    return state


def first_parts(message: dict[str, Any]) -> dict[str, Any]:
    """The message's first part of each type (sources: the best one)."""
    parts: dict[str, Any] = {}
    for part in message["parts"]:
        parts.setdefault(part["type"], part)
    return parts


@pytest.mark.e2e
def test_the_ai_sdk_s_own_chat_converses_with_its_default_body(node: str, served: str):
    files = {"files": ("birds.pdf", make_pdf(PAGES))}
    token = httpx.post(f"{served}/upload", files=files).json()["token"]
    state = chat(node, served, token, QUESTION, "How fast do peregrine falcons stoop?")
    assert state["status"] == "ready" and state["error"] is None
    roles = [message["role"] for message in state["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    parts = first_parts(state["messages"][1])
    assert "voles" in parts["text"]["text"] and parts["text"]["state"] == "done"
    cited = parts["source-url"]["providerMetadata"]["ragsvc"]
    assert (cited["filename"], cited["page"]) == ("birds.pdf", 1)
    assert parts["source-url"]["url"] == f"{served}/documents/{cited['documentId']}/pages/1"
    assert parts["source-document"]["providerMetadata"] == parts["source-url"]["providerMetadata"]
    assert parts["data-sources"]["data"][0]["page"] == 1
    done = parts["data-done"]["data"]
    assert done["citations"] == [1] and done["quotes"][0]["n"] == 1
    assert "voles" in done["quotes"][0]["text"]
    second = "".join(p.get("text", "") for p in state["messages"][3]["parts"])
    assert "three hundred km per hour" in second


@pytest.mark.e2e
def test_a_refusal_reaches_useChat_s_error_as_a_sentence(node: str, served: str):
    token = httpx.post(f"{served}/sessions").json()["token"]  # no document: 409
    state = chat(node, served, token, QUESTION)
    assert state["status"] == "error"
    assert state["error"] == "upload a PDF with a text layer before asking"  # not JSON
