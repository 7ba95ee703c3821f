"""Stream behaviour on a real socket: heartbeats while the generator is quiet, resuming with
Last-Event-ID, and a client that goes away (and stays away) cancels the generation. The app
runs in uvicorn in a thread with a slow generator implementing the real Generator protocol.

Slow tier: the event log and the framing have fast unit tests of their own (test_eventlog,
test_sse); these check the same behaviour end to end on a socket."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from ragsvc.answer.prompts import Prompt
from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.fakes import SlowGenerator, fake_backends
from tests.support.pdfs import make_pdf
from tests.support.server import serving_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[str, SlowGenerator]]:
    settings = Settings(data_dir=tmp_path / "data", heartbeat_s=0.1, resume_grace_s=0.3)
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


def read_frames(
    reply: httpx.Response | Iterator[str], limit: int | None = None
) -> list[dict[str, str]]:
    """Frames as they arrive (comments skipped), stopping after `limit` of them. To read
    one response in several goes, pass the same `reply.iter_lines()` iterator each time."""
    lines = reply.iter_lines() if isinstance(reply, httpx.Response) else reply
    frames: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line and not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        elif not line and fields:
            frames.append(fields)
            fields = {}
            if len(frames) == limit:
                break
    return frames


def ask(base: str, headers: dict[str, str], last_event_id: str | None = None):
    extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return httpx.stream(
        "POST", f"{base}/ask", json={"question": "bell?"}, headers={**headers, **extra}
    )


def test_reconnecting_with_last_event_id_resumes_without_a_second_generation(slow_server):
    base, generator = slow_server
    headers = upload(base)
    with ask(base, headers) as reply:
        answer_id = reply.headers["x-answer-id"]
        first = read_frames(reply, limit=3)  # sources and two tokens, then the network "drops"
    assert first[0]["retry"] == "1000" and first[0]["event"] == "sources"
    with ask(base, headers, last_event_id=first[-1]["id"]) as reply:
        assert reply.status_code == 200 and reply.headers["x-answer-id"] == answer_id
        rest = read_frames(reply)
    assert [f["id"] for f in first + rest] == [f"{answer_id}:{i}" for i in range(len(first + rest))]
    assert rest[-1]["event"] == "done"
    tokens = [json.loads(f["data"])["text"] for f in first + rest if f["event"] == "token"]
    assert "".join(tokens) == json.loads(rest[-1]["data"])["answer"]
    assert generator.calls == 1 and generator.finished.is_set()
    # Once the last event was seen, resuming says there is nothing more: EventSource stops.
    with ask(base, headers, last_event_id=rest[-1]["id"]) as reply:
        assert reply.status_code == 204


def test_an_abandoned_answer_ends_with_an_error_event(slow_server):
    base, generator = slow_server
    headers = upload(base)
    with ask(base, headers) as reply:
        first = read_frames(reply, limit=2)
    assert generator.closed.wait(timeout=5)  # nobody came back within the grace period
    with ask(base, headers, last_event_id=first[-1]["id"]) as reply:
        rest = read_frames(reply)
    assert rest[-1]["event"] == "error"
    assert json.loads(rest[-1]["data"])["status"] == 410
    assert generator.calls == 1


def test_an_unknown_or_foreign_event_id_starts_a_fresh_answer(slow_server):
    base, generator = slow_server
    alice, bob = upload(base), upload(base)
    with ask(base, alice) as reply:
        alice_first = read_frames(reply, limit=2)
    with ask(base, bob, last_event_id=alice_first[-1]["id"]) as reply:
        bob_answer_id = reply.headers["x-answer-id"]
        bob_frames = read_frames(reply)
    assert not alice_first[-1]["id"].startswith(bob_answer_id)
    assert bob_frames[0]["event"] == "sources" and bob_frames[0]["id"] == f"{bob_answer_id}:0"
    assert generator.calls == 2


def test_a_reader_that_stops_reading_holds_back_nobody(slow_server):
    base, generator = slow_server
    headers = upload(base)
    with ask(base, headers) as slow_reader:
        lines = slow_reader.iter_lines()
        first = read_frames(lines, limit=1)
        # While this reader reads nothing, another client gets its whole answer...
        with ask(base, headers) as other:
            assert read_frames(other)[-1]["event"] == "done"
        # ...and the stalled reader's own generation runs on to its end all the same.
        deadline = time.monotonic() + 10
        while generator.completed < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert generator.completed == 2
        rest = read_frames(lines)
    assert first[0]["event"] == "sources" and rest[-1]["event"] == "done"
    tokens = [f for f in rest if f["event"] == "token"]
    assert len(tokens) == generator.words


class FloodGenerator:
    """An answer far larger than the socket buffers: a reader that stops reading blocks sends."""

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        for _ in range(300):
            yield "x" * 65_536 + " "


def test_a_client_that_never_reads_is_cut_off_by_the_send_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    import socket

    caplog.set_level(logging.INFO, logger="ragsvc.api.sse")
    settings = Settings(data_dir=tmp_path / "data", send_timeout_s=0.5, resume_grace_s=0.2)
    backends = fake_backends(settings)
    backends.generator = FloodGenerator()
    with serving_in_thread(create_app(settings, backends)) as base:
        headers = upload(base)
        host, port = base.removeprefix("http://").split(":")
        body = b'{"question": "bell?"}'
        request = (
            f"POST /ask HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(request)
            # Read nothing until the server says it gave up on this client.
            deadline = time.monotonic() + 20
            while not stream_closed_for_not_reading(caplog) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert stream_closed_for_not_reading(caplog)
            sock.settimeout(10)
            received = bytearray()
            while chunk := sock.recv(1 << 20):  # b"" once the server has closed
                received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert len(received) < 300 * 65_536  # cut off long before the whole answer
    assert b"event: done" not in received


def stream_closed_for_not_reading(caplog: pytest.LogCaptureFixture) -> bool:
    return any("client stopped reading" in r.getMessage() for r in caplog.records)
