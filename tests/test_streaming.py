"""Stream behaviour on a real socket: heartbeats while the generator is quiet, and a client
that goes away cancels the generation. The app runs in uvicorn in a thread with a slow
generator implementing the real Generator protocol."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from ragsvc.app import create_app
from ragsvc.config import Settings
from ragsvc.prompts import Prompt

from .conftest import fake_backends, make_pdf
from .server import serving_in_thread


class SlowGenerator:
    """Yields a word every `pause` seconds; records whether its stream was closed early."""

    def __init__(self, words: int, pause: float) -> None:
        self.words, self.pause = words, pause
        self.sent = 0
        self.closed = threading.Event()
        self.finished = threading.Event()

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        try:
            for i in range(self.words):
                self.sent += 1
                yield f"word{i} "
                await anyio.sleep(self.pause)
            self.finished.set()
        finally:
            self.closed.set()


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[str, SlowGenerator]]:
    settings = Settings(data_dir=tmp_path / "data", heartbeat_s=0.1)
    backends = fake_backends(settings)
    generator = SlowGenerator(words=12, pause=0.1)
    backends.generator = generator
    with serving_in_thread(create_app(settings, backends)) as base:
        yield base, generator


def upload(base: str) -> dict[str, str]:
    pages = ["The harbour master rings the bell at noon."]
    reply = httpx.post(f"{base}/upload", files={"files": ("h.pdf", make_pdf(pages))})
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def test_heartbeats_flow_while_the_generator_is_quiet(slow_server):
    base, generator = slow_server
    headers = upload(base)
    pings = tokens = 0
    with httpx.stream("POST", f"{base}/ask", json={"question": "bell?"}, headers=headers) as reply:
        for line in reply.iter_lines():
            pings += line.startswith(": ping")
            tokens += line == "event: token"
    assert tokens == generator.words
    assert pings >= 3  # 1.2 s of generation at one ping per 0.1 s; allow for scheduling


def test_client_disconnect_cancels_the_generation(slow_server):
    base, generator = slow_server
    headers = upload(base)
    with httpx.stream("POST", f"{base}/ask", json={"question": "bell?"}, headers=headers) as reply:
        for line in reply.iter_lines():
            if line == "event: token":
                break  # leave after the first token; closing the response drops the socket
    assert generator.closed.wait(timeout=5), "generation still running after the client left"
    assert not generator.finished.is_set()
    assert generator.sent < generator.words
    # Nothing was answered, so no turn was recorded.
    info = httpx.get(f"{base}/sessions/current", headers=headers).json()
    assert info["turns"] == 0
