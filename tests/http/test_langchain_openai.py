"""LangChain's ChatOpenAI against a live ragsvc, reading sources and citations without
response headers: through the Responses API (`use_responses_api=True`), each [n] of the
answer is a `url_citation` annotation of the message's text (a link to the cited page, the
document, page and quote), when invoked and when streamed; every source in brief is in the
response's `metadata`. (From a chat completion ChatOpenAI keeps the text alone.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import RecordingGenerator, fake_backends
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

PAGES = ["Peregrine falcons nest on cliffs.", "Barn owls hunt voles at night by ear."]
QUESTION = "What do barn owls hunt?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("langchain") / "data")
    app = create_app(settings, fake_backends(settings))
    with serving_in_thread(app) as base:
        files = {"files": ("birds.pdf", make_pdf(PAGES))}
        token = httpx.post(f"{base}/upload", files=files).json()["token"]
        yield {"base": base, "token": token, "answering": app.state.ragsvc.answering}


def chat_model(served: dict[str, Any], token: str | None = None) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{served['base']}/v1",
        api_key=token or served["token"],  # type: ignore[arg-type]
        model="ragsvc",
        use_responses_api=True,
        max_retries=0,
    )


def citations_of(message: BaseMessage) -> list[dict[str, Any]]:
    return [a for block in message.content if isinstance(block, dict) for a in block["annotations"]]


def test_an_invoked_answer_carries_its_citations(served: dict[str, Any]):
    message = chat_model(served).invoke(QUESTION)
    assert "voles" in message.text and "[1]" in message.text
    [cited] = citations_of(message)
    assert (
        cited["type"] == "url_citation"
        and message.text[cited["start_index"] : cited["end_index"]] == "[1]"
    )
    assert (cited["filename"], cited["page"]) == ("birds.pdf", 2)
    assert cited["url"] == f"{served['base']}/documents/{cited['document_id']}/pages/2"
    assert cited["title"] == "[1] birds.pdf, page 2"
    assert "voles" in cited["quote"] and cited["verified"] is True
    [standard] = [a for b in message.content_blocks for a in b.get("annotations", [])]
    assert standard["type"] == "citation" and standard["url"] == cited["url"]  # LangChain's own
    sources = json.loads(message.response_metadata["metadata"]["ragsvc_sources"])
    assert sources[0] == {
        "n": 1,
        "document_id": cited["document_id"],
        "filename": "birds.pdf",
        "page": 2,
    }
    assert message.usage_metadata and message.usage_metadata["output_tokens"] > 0


def test_a_streamed_answer_carries_them_too(served: dict[str, Any]):
    chunks = list(chat_model(served).stream(QUESTION))
    message = chunks[0]
    for chunk in chunks[1:]:
        message += chunk
    assert len(chunks) > 3  # it streamed
    assert "voles" in message.text
    [cited] = citations_of(message)
    assert (cited["page"], cited["title"]) == (2, "[1] birds.pdf, page 2")
    assert "ragsvc_sources" in message.response_metadata["metadata"]


def test_the_messages_before_the_question_are_the_conversation(served: dict[str, Any]):
    answering = served["answering"]
    generator, answering.generator = answering.generator, RecordingGenerator()
    try:
        chat_model(served).invoke(
            [
                SystemMessage("Be brief."),
                HumanMessage(QUESTION),
                AIMessage("Voles [1]."),
                HumanMessage("And when?"),
            ]
        )
        [prompt] = answering.generator.prompts
    finally:
        answering.generator = generator
    assert prompt.question == "And when?"
    assert [(t.question, t.answer) for t in prompt.history] == [(QUESTION, "Voles [1].")]


def test_a_refusal_is_the_sdk_s_exception(served: dict[str, Any]):
    empty = httpx.post(f"{served['base']}/sessions").json()["token"]
    with pytest.raises(openai.ConflictError, match="upload a PDF"):
        chat_model(served, empty).invoke(QUESTION)


def test_the_docs_langchain_example(served: dict[str, Any], capsys: pytest.CaptureFixture[str]):
    """docs/clients.md's ChatOpenAI example, run as written (its `py` block)."""
    blocks = re.findall(r"```py\n(.*?)```", (ROOT / "docs" / "clients.md").read_text(), re.S)
    [code] = [block for block in blocks if "ChatOpenAI" in block]
    keeper = ["The keeper lights the lamp at dusk.", "The keeper records every ship in a log."]
    files = {"files": ("keeper.pdf", make_pdf(keeper))}
    token = httpx.post(f"{served['base']}/upload", files=files).json()["token"]
    exec(compile(code, "docs/clients.md", "exec"), {"BASE": served["base"], "TOKEN": token})
    printed = capsys.readouterr().out
    assert "records every ship" in printed
    assert "keeper.pdf, page 2 http" in printed and "/pages/2 The keeper records" in printed
