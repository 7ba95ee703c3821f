"""The `openai` embedder and generator against a real OpenAI-compatible server on loopback.

The service runs in-process (ASGITransport + lifespan) with its backends built from settings,
exactly as in production; only the upstream is a fake (tests/fake_openai.py), reached over
real sockets.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import openai
import pytest
from fastapi import FastAPI

from ragsvc.answer.generators import OpenAIGenerator
from ragsvc.answer.prompts import Prompt
from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from ragsvc.core.schemas import Source
from ragsvc.runtime.backends import Backends, make_backends
from tests.support.apps import parse_sse
from tests.support.fake_openai import FakeOpenAI, fake_usage
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

pytestmark = pytest.mark.anyio

PAGES = [
    "Herons are wading birds. They stand still in shallow water and hunt fish at dawn. "
    "Their long legs let them wade where the fish feed, and their necks strike fast. "
    "Grey herons nest together in tall trees, in colonies called heronries, and return "
    "to the same nests every spring for many years.",
    "Kingfishers dive from low perches over streams. Their beaks are long and sharp, and "
    "they beat their catch against a branch before swallowing it head first. They dig "
    "nesting tunnels in sandy river banks, up to a metre long, and line the chamber at "
    "the end with fish bones.",
    "Cormorants dry their wings in the sun after diving for eels. Their feathers are not "
    "fully waterproof, which helps them dive deep but leaves them soaked afterwards. "
    "Fishermen in China and Japan have trained cormorants to catch fish for centuries, "
    "a craft still shown to visitors.",
]
QUESTION = "Where do cormorants dry their wings?"
BATCH = 2
TIMEOUT_S = 10  # a hung stream fails the test instead of the suite


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAI]:
    """One server for the module: starting and stopping one per test costs 0.2 s each."""
    with FakeOpenAI().running() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    fake_server.reset()
    return fake_server


def openai_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "embedder": "openai",
        "generator": "openai",
        "openai_base_url": base_url,
        "openai_api_key": "test",
        "embedding_model": "fake-embed",
        "embedding_batch": BATCH,
        "llm_model": "fake-chat",
        "llm_temperature": 0.3,
        "llm_max_tokens": 321,
        "backend_retries": 0,
        "backend_timeout_s": 5,
        "parse_workers": 0,  # pages in-process: these tests are about the backends
        "chunk_size": 200,
        "chunk_overlap": 40,
        **overrides,
    }
    return Settings(**values)


def openai_client(app: FastAPI) -> openai.AsyncOpenAI:
    """The one client make_backends() built, shared by the openai backends."""
    backends: Backends = app.state.ragsvc.backends
    assert backends.client is not None
    return backends.client


@asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
async def api(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with service(openai_settings(tmp_path, fake.base_url)) as http:
        yield http


async def upload(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"files": ("birds.pdf", make_pdf(PAGES), "application/pdf")}
    return await http.post("/upload", files=files, headers=headers or {})


async def uploaded_session(http: httpx.AsyncClient) -> dict[str, str]:
    reply = await upload(http)
    assert reply.status_code == 201, reply.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def ask_sse(
    http: httpx.AsyncClient, headers: dict[str, str], question: str = QUESTION
) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    """POST /ask; the (event, parsed data) pairs of a stream, bounded by a timeout."""
    with anyio.fail_after(TIMEOUT_S):
        reply = await http.post("/ask", json={"question": question}, headers=headers)
    if not reply.headers["content-type"].startswith("text/event-stream"):
        return reply, []
    return reply, [(f["event"], json.loads(f["data"])) for f in parse_sse(reply.text)]


def assert_problem(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def turns(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    count: int = (await http.get("/sessions/current", headers=headers)).json()["turns"]
    return count


# upload ---------------------------------------------------------------------------------


async def test_upload_embeds_in_batches(api: httpx.AsyncClient, fake: FakeOpenAI):
    reply = await upload(api)
    assert reply.status_code == 201, reply.text
    [document] = reply.json()["documents"]
    assert document["status"] == "ready" and document["pages"] == 3
    assert document["chunks"] > 2 * BATCH  # enough for several batches
    assert sum(fake.embedding_batches) == document["chunks"]
    assert max(fake.embedding_batches) <= BATCH and len(fake.embedding_batches) >= 3
    first = fake.requests[0]
    assert first.body["model"] == "fake-embed"
    assert first.headers["authorization"] == "Bearer test"


async def test_embedding_failure_on_upload_stores_nothing(api: httpx.AsyncClient, fake: FakeOpenAI):
    created = await api.post("/sessions")
    api.cookies.clear()
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    fake.embeddings_mode = "error"
    assert_problem(await upload(api, headers), 503)
    assert (await api.get("/documents", headers=headers)).json() == {"documents": []}
    # Nothing half-stored: once the backend is back, the same file is ingested afresh.
    fake.embeddings_mode = "ok"
    again = await upload(api, headers)
    assert again.status_code == 201 and again.json()["documents"][0]["status"] == "ready"


async def test_embedding_failure_on_tokenless_upload_leaves_no_session(
    api: httpx.AsyncClient, fake: FakeOpenAI, tmp_path: Path
):
    fake.embeddings_mode = "error"
    reply = await upload(api)
    assert_problem(reply, 503)
    assert "set-cookie" not in reply.headers
    assert fake.embedding_batches  # the backend was really asked
    assert list((tmp_path / "data" / "sessions").iterdir()) == []


# ask ------------------------------------------------------------------------------------


async def test_ask_streams_the_upstream_answer(api: httpx.AsyncClient, fake: FakeOpenAI):
    headers = await uploaded_session(api)
    reply, events = await ask_sse(api, headers)
    assert reply.status_code == 200
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 4
    sources, done = events[0][1]["sources"], events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "token") == done["answer"]
    # The reply is built by the upstream from what it received: the question and source [1].
    assert QUESTION in done["answer"]
    assert f"Source one is page {sources[0]['page']} [1]" in done["answer"]
    assert done["citations"] == [1]

    [request] = fake.chat_requests
    assert request["model"] == "fake-chat" and request["stream"] is True
    assert request["temperature"] == 0.3 and request["max_tokens"] == 321
    system, user = request["messages"]
    assert system["role"] == "system"
    for source in sources:
        assert f"[{source['n']}] birds.pdf, page {source['page']}:\n" in system["content"]
    assert user == {"role": "user", "content": QUESTION}
    assert await turns(api, headers) == 1
    # Asked for the upstream's token counts, which `done` passes on as they are.
    assert request["stream_options"] == {"include_usage": True}
    pieces = sum(1 for name, _ in events if name == "token")
    assert done["usage"] == fake_usage(request["messages"], ["piece"] * pieces)


async def test_follow_up_sends_previous_turn(api: httpx.AsyncClient, fake: FakeOpenAI):
    headers = await uploaded_session(api)
    _, first_events = await ask_sse(api, headers)
    first_answer = first_events[-1][1]["answer"]
    follow_up = "And what do kingfishers do with their catch?"
    _, events = await ask_sse(api, headers, follow_up)
    assert events[-1][0] == "done" and follow_up in events[-1][1]["answer"]
    messages = fake.chat_requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == QUESTION
    assert messages[2]["content"] == first_answer
    assert messages[3]["content"] == follow_up


async def test_json_answer(api: httpx.AsyncClient, fake: FakeOpenAI):
    headers = await uploaded_session(api)
    with anyio.fail_after(TIMEOUT_S):
        reply = await api.post(
            "/ask", json={"question": QUESTION}, headers={**headers, "Accept": "application/json"}
        )
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["sources"] and body["citations"] == [1]
    assert body["answer"].startswith(f"You asked: {QUESTION}")
    assert f"page {body['sources'][0]['page']} [1]" in body["answer"]
    assert len(fake.chat_requests) == 1
    [quote] = body["quotes"]  # the fake's "Source one is page N" is in no source: flagged
    assert quote["n"] == 1 and quote["claim"] == body["answer"].removesuffix(" [1].")
    assert quote["verified"] is False


# failures -------------------------------------------------------------------------------


async def test_llm_error_before_first_token_is_503(api: httpx.AsyncClient, fake: FakeOpenAI):
    headers = await uploaded_session(api)
    fake.chat_mode = "error"
    reply, _ = await ask_sse(api, headers)
    body = assert_problem(reply, 503)
    assert body["type"] == "urn:ragsvc:problem:backend-unavailable"
    assert len(fake.chat_requests) == 1  # backend_retries=0: asked once
    assert await turns(api, headers) == 0


async def test_connection_dropped_mid_stream_ends_with_error_event(
    api: httpx.AsyncClient, fake: FakeOpenAI
):
    headers = await uploaded_session(api)
    fake.chat_mode = "drop"
    reply, events = await ask_sse(api, headers)
    assert reply.status_code == 200  # the stream had started before the upstream failed
    names = [name for name, _ in events]
    assert names == ["sources"] + ["token"] * fake.drop_after + ["error"]
    error = events[-1][1]
    assert error["status"] == 503 and error["type"] == "urn:ragsvc:problem:backend-unavailable"
    assert error["title"] and error["detail"]
    assert fake.stream_outcomes == ["dropped"]
    assert await turns(api, headers) == 0  # a broken answer is not remembered


async def test_upstream_going_silent_mid_stream_times_out_into_an_error_event(
    fake: FakeOpenAI, tmp_path: Path
):
    fake.chat_mode = "stall"
    settings = openai_settings(tmp_path, fake.base_url, backend_timeout_s=0.5)
    async with service(settings) as http:
        headers = await uploaded_session(http)
        with anyio.fail_after(TIMEOUT_S):
            reply, events = await ask_sse(http, headers)
    names = [name for name, _ in events]
    assert names == ["sources"] + ["token"] * fake.drop_after + ["error"]
    assert events[-1][1]["status"] == 503 and "timed out" in events[-1][1]["detail"].lower()


async def test_connection_dropped_mid_answer_as_json_is_503(
    api: httpx.AsyncClient, fake: FakeOpenAI
):
    headers = await uploaded_session(api)
    fake.chat_mode = "drop"
    with anyio.fail_after(TIMEOUT_S):
        reply = await api.post(
            "/ask", json={"question": QUESTION}, headers={**headers, "Accept": "application/json"}
        )
    assert_problem(reply, 503)


async def test_fake_really_breaks_the_stream(fake: FakeOpenAI):
    """Guards the test above: the drop is a broken HTTP body, not a clean end."""
    fake.chat_mode = "drop"
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi there"}]}
    received = b""
    with anyio.fail_after(TIMEOUT_S), pytest.raises(httpx.RemoteProtocolError):
        async with (
            httpx.AsyncClient() as http,
            http.stream("POST", f"{fake.base_url}/chat/completions", json=body) as reply,
        ):
            assert reply.status_code == 200
            async for data in reply.aiter_bytes():
                received += data
    assert received.count(b'"content"') == 1 + fake.drop_after and b"[DONE]" not in received


def dead_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_embeddings_connection_refused_is_503(tmp_path: Path):
    async with service(openai_settings(tmp_path, dead_url())) as http:
        with anyio.fail_after(TIMEOUT_S):
            reply = await upload(http)
    assert_problem(reply, 503)


async def test_llm_connection_refused_is_503(tmp_path: Path):
    settings = openai_settings(tmp_path, dead_url(), embedder="wordllama")
    async with service(settings) as http:
        headers = await uploaded_session(http)
        reply, _ = await ask_sse(http, headers)
        assert_problem(reply, 503)


# cancellation ---------------------------------------------------------------------------


async def test_closing_the_generator_hangs_up_upstream(fake: FakeOpenAI, tmp_path: Path):
    """A client that goes away closes the answer; the LLM must stop generating for nobody."""
    fake.chunk_delay, fake.repeat = 0.02, 50  # a long, slow answer
    generator = make_backends(openai_settings(tmp_path, fake.base_url)).generator
    assert isinstance(generator, OpenAIGenerator)
    source = Source(n=1, document_id="d", filename="a.pdf", page=4, score=1.0, text="Herons.")
    pieces = cast(AsyncGenerator[str], generator.stream(Prompt("Herons?", [source])))
    try:
        with anyio.fail_after(TIMEOUT_S):
            assert await anext(pieces) == "You "
            await pieces.aclose()
            while not fake.stream_outcomes:
                await anyio.sleep(0.01)
    finally:
        await generator._client.close()
    assert fake.stream_outcomes == ["client closed"]
    assert len(fake.chat_requests) == 1


@pytest.mark.slow
def test_client_leaving_a_real_stream_hangs_up_upstream(fake: FakeOpenAI, tmp_path: Path):
    """End to end on sockets: client -> ragsvc (uvicorn) -> fake LLM. The client leaves after
    the first token; ragsvc must close its upstream request instead of reading to the end."""
    fake.chunk_delay, fake.repeat = 0.02, 50  # about 10 s of answer if nobody hangs up
    app = create_app(openai_settings(tmp_path, fake.base_url, resume_grace_s=0.2))
    with serving_in_thread(app) as base:
        up = httpx.post(f"{base}/upload", files={"files": ("h.pdf", make_pdf(["Herons fish."]))})
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        with httpx.stream(
            "POST", f"{base}/ask", json={"question": "Herons?"}, headers=headers
        ) as r:
            for line in r.iter_lines():
                if line == "event: token":
                    break
        deadline = time.monotonic() + TIMEOUT_S
        while not fake.stream_outcomes and time.monotonic() < deadline:
            time.sleep(0.01)
    assert fake.stream_outcomes == ["client closed"]


async def test_lifespan_closes_the_openai_client(fake: FakeOpenAI, tmp_path: Path):
    app = create_app(openai_settings(tmp_path, fake.base_url))
    async with app.router.lifespan_context(app):
        client = openai_client(app)
        assert not client.is_closed()
    assert client.is_closed()
