"""The OpenAI-compatible endpoint, driven by the `openai` Python package on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ragsvc.app import create_app
from ragsvc.config import Settings
from ragsvc.errors import BackendUnavailable
from ragsvc.prompts import Prompt

from .conftest import fake_backends, make_pdf
from .server import serving_in_thread

DOCS = [
    ("owls.pdf", ["Barn owls hunt voles at night using their acute hearing."]),
    ("falcons.pdf", ["Peregrine falcons stoop at over three hundred km per hour."]),
]


class BreakingGenerator:
    """Says a few words, then its backend fails."""

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        yield "Barn owls "
        yield "hunt "
        raise BackendUnavailable("LLM backend failed mid-answer: connection reset")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """One server for the module (starting one per test costs 0.25 s each)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("compat") / "data")
    app = create_app(settings, fake_backends(settings))
    with serving_in_thread(app) as base:
        files = [("files", (name, make_pdf(pages), "application/pdf")) for name, pages in DOCS]
        token = httpx.post(f"{base}/upload", files=files).json()["token"]
        yield base, {"token": token, "answering": app.state.ragsvc.answering}


@pytest.fixture
def server(served: tuple[str, dict]) -> Iterator[tuple[str, dict]]:
    """The module's server, its generator restored after each test."""
    answering = served[1]["answering"]
    generator = answering.generator
    yield served
    answering.generator = generator


def client(base: str, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=30)


def test_models_list(server):
    base, ctx = server
    with client(base, ctx["token"]) as sdk:
        assert [m.id for m in sdk.models.list()] == ["ragsvc"]


def test_completion_with_sources(server):
    base, ctx = server
    with client(base, ctx["token"]) as sdk:
        reply = sdk.chat.completions.create(
            model="ragsvc", messages=[{"role": "user", "content": "What do barn owls hunt?"}]
        )
    content = reply.choices[0].message.content
    assert "voles" in content and "[1]" in content and reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["sources"][0]["filename"] == "owls.pdf" and extra["sources"][0]["page"] == 1
    assert extra["citations"] == [1]


def test_streaming_chunks_and_done(server):
    base, ctx = server
    with client(base, ctx["token"]) as sdk:
        stream = sdk.chat.completions.create(
            model="ragsvc",
            messages=[{"role": "user", "content": "How fast do peregrine falcons stoop?"}],
            stream=True,
        )
        chunks = list(stream)
    first_extra = chunks[0].model_extra or {}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert first_extra["sources"][0]["filename"] == "falcons.pdf"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "three hundred km per hour" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1


class RecordingGenerator:
    """Keeps the prompts it is given; answers with a fixed cited sentence."""

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        self.prompts.append(prompt)
        yield "Noted [1]."


def test_conversation_in_messages_becomes_the_history(server):
    base, ctx = server
    ctx["answering"].generator = recorder = RecordingGenerator()
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "How fast do peregrine falcons stoop?"},
        {"role": "assistant", "content": "Over three hundred km per hour [1]."},
        {"role": "user", "content": "and how does that compare?"},
    ]
    with client(base, ctx["token"]) as sdk:
        reply = sdk.chat.completions.create(
            model="ragsvc", messages=messages, extra_body={"top_k": 1}
        )
    assert reply.choices[0].message.content == "Noted [1]."
    [prompt] = recorder.prompts
    assert prompt.question == "and how does that compare?"
    assert [(t.question, t.answer) for t in prompt.history] == [
        ("How fast do peregrine falcons stoop?", "Over three hundred km per hour [1].")
    ]
    assert len(prompt.sources) == 1  # the top_k extra was honoured


def test_errors_reach_the_sdk_as_its_exceptions(server, tmp_path: Path):
    base, ctx = server
    with client(base, "not-a-token") as sdk, pytest.raises(openai.AuthenticationError):
        sdk.models.list()
    empty = httpx.post(f"{base}/sessions").json()["token"]
    with client(base, empty) as sdk, pytest.raises(openai.ConflictError):
        sdk.chat.completions.create(model="ragsvc", messages=[{"role": "user", "content": "hi?"}])
    with client(base, ctx["token"]) as sdk, pytest.raises(openai.UnprocessableEntityError):
        sdk.chat.completions.create(
            model="ragsvc", messages=[{"role": "assistant", "content": "x"}]
        )


def test_backend_failure_mid_stream_raises_in_the_sdk(server):
    base, ctx = server
    ctx["answering"].generator = BreakingGenerator()
    with client(base, ctx["token"]) as sdk:
        stream = sdk.chat.completions.create(
            model="ragsvc", messages=[{"role": "user", "content": "owls?"}], stream=True
        )
        received = []
        with pytest.raises(openai.APIError, match="mid-answer"):
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Barn owls hunt "
