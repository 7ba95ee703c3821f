"""The OpenAI-compatible endpoint, driven by the `openai` Python package on a real socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from ragsvc.answer.prompts import Prompt
from ragsvc.answer.usage_count import count_tokens
from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from ragsvc.core.errors import BackendUnavailable
from tests.support.fakes import RecordingGenerator, fake_backends
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

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
    [annotation] = reply.choices[0].message.annotations or []
    cited = annotation.url_citation  # OpenAI's typed citation: the [1] and its page
    assert content[cited.start_index : cited.end_index] == "[1]"
    assert cited.url.startswith(f"{base}/documents/") and cited.url.endswith("/pages/1")
    assert cited.title == "[1] owls.pdf, page 1"


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


def test_usage_counts_tokens_when_asked_while_streaming(server):
    """The extractive generator counts nothing itself: the prompt it would have been (the
    sources and the question) and the answer are counted with the bundled tokenizer."""
    base, ctx = server
    question = [{"role": "user", "content": "What do barn owls hunt?"}]
    with client(base, ctx["token"]) as sdk:
        whole = sdk.chat.completions.create(model="ragsvc", messages=question)
        chunks = list(
            sdk.chat.completions.create(
                model="ragsvc",
                messages=question,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        plain = list(sdk.chat.completions.create(model="ragsvc", messages=question, stream=True))
    usage = whole.usage
    assert usage is not None
    answer_tokens = count_tokens([whole.choices[0].message.content or ""])
    assert usage.completion_tokens == answer_tokens > 0
    assert usage.prompt_tokens > count_tokens(["What do barn owls hunt?"])  # the sources too
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    *_, last = chunks
    assert last.choices == [] and last.usage == usage  # OpenAI's last chunk when asked
    assert all(chunk.usage is None for chunk in plain)


def test_n_above_one_is_refused_with_openai_s_error_envelope(server):
    base, ctx = server
    with client(base, ctx["token"]) as sdk, pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="ragsvc", messages=[{"role": "user", "content": "owls?"}], n=2
        )
    assert refused.value.code == "unsupported"
    assert isinstance(refused.value.body, dict) and "one answer" in refused.value.body["message"]
    reply = refused.value.response
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == refused.value.body["message"]  # still problem+json


def test_langchain_keeps_the_answer_usage_and_sources(server):
    """LangChain's ChatOpenAI drops extra body fields; the sources reach it in the
    X-Sources response header (with include_response_headers=True)."""
    langchain_openai = pytest.importorskip("langchain_openai")
    base, ctx = server
    chat = langchain_openai.ChatOpenAI(
        base_url=f"{base}/v1", api_key=ctx["token"], model="ragsvc", max_retries=0,
        include_response_headers=True,
    )  # fmt: skip
    reply = chat.invoke("How fast do peregrine falcons stoop?")
    streamed = list(chat.stream("What do barn owls hunt?", stream_usage=True))
    assert "three hundred km per hour" in reply.content and "[1]" in reply.content
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0
    sources = json.loads(reply.response_metadata["headers"]["x-sources"])
    assert sources[0]["filename"] == "falcons.pdf" and sources[0]["page"] == 1
    text = "".join(str(chunk.content) for chunk in streamed)
    assert "voles" in text
    assert sum(c.usage_metadata["output_tokens"] for c in streamed if c.usage_metadata) > 0
    first_headers = streamed[0].response_metadata["headers"]
    assert json.loads(first_headers["x-sources"])[0]["filename"] == "owls.pdf"
