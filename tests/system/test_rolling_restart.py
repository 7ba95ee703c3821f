"""A rolling restart of three replicas behind nginx while 20 clients stream answers from a
slow OpenAI-compatible server: each replica in turn gets SIGTERM, drains, and a new one
starts on its port. No stream ends without `done` or `error`, and at least 95% end with
`done`. Slow: three servers, nginx, a fake LLM and twenty clients."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.nginx_proxy import in_front_of
from tests.support.pdfs import make_pdf
from tests.support.server import free_port, server_process

pytestmark = pytest.mark.slow
CLIENTS = 20


def _ask(base: str, who: dict[str, str]) -> str:
    """One answer, streamed: how it ended (done, error, cut mid-stream, or refused)."""
    try:
        with httpx.stream(
            "POST", f"{base}/ask", json={"question": "herons?"}, headers=who, timeout=60
        ) as reply:
            if reply.status_code != 200:
                return f"refused {reply.status_code}"
            last = ""
            for line in reply.iter_lines():
                if line.startswith("event: "):
                    last = line.removeprefix("event: ")
    except httpx.HTTPError:
        return "cut"
    return last if last in ("done", "error") else "cut"


def _client(base: str, stop: threading.Event, outcomes: list[str]) -> None:
    files = {"files": ("h.pdf", make_pdf(["Herons fish at dawn in shallow water."]))}
    who = {"Authorization": f"Bearer {httpx.post(f'{base}/upload', files=files).json()['token']}"}
    while not stop.is_set():
        outcomes.append(_ask(base, who))  # list.append: safe from threads


def test_a_rolling_restart_ends_every_stream_with_done_or_error(
    tmp_path: Path, database_url: str, redis_url: str
):
    env = {
        "RAGSVC_STORE": "postgres",
        "RAGSVC_DATABASE_URL": database_url,
        "RAGSVC_REDIS_URL": redis_url,
        "RAGSVC_PARSE_WORKERS": "1",
        "RAGSVC_ASK_RATE_PER_MINUTE": "0",
        "RAGSVC_SESSION_RATE_PER_MINUTE": "0",
        "RAGSVC_GENERATOR": "openai",
        "RAGSVC_OPENAI_API_KEY": "test",
        "RAGSVC_LLM_MODEL": "fake-chat",
    }
    ports = [free_port() for _ in range(3)]
    seen: list[str] = []
    stop = threading.Event()
    (tmp_path / "data").mkdir()
    with FakeOpenAI(chunk_delay=0.05, repeat=6).running() as llm, ExitStack() as stack:
        env["RAGSVC_OPENAI_BASE_URL"] = llm.base_url
        replicas = [
            stack.enter_context(server_process(tmp_path / "data", port=port, **env))
            for port in ports
        ]
        base = stack.enter_context(in_front_of([b for b, _ in replicas], tmp_path / "nginx"))
        clients = [
            threading.Thread(target=_client, args=(base, stop, seen)) for _ in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        time.sleep(3)
        for (_, process), port in zip(replicas, ports, strict=True):
            process.send_signal(signal.SIGTERM)  # drains: its streams finish, then it exits
            process.wait(timeout=60)
            stack.enter_context(server_process(tmp_path / "data", port=port, **env))
            time.sleep(3)  # ready, and back in nginx's rotation, before the next one
        stop.set()
        for client in clients:
            client.join(timeout=90)
    outcomes = Counter(seen)
    print("rolling restart outcomes:", dict(outcomes))
    streams = outcomes["done"] + outcomes["error"] + outcomes["cut"]
    assert outcomes["cut"] == 0, outcomes
    assert outcomes["done"] >= 0.95 * streams, outcomes
    refused = sum(n for what, n in outcomes.items() if what.startswith("refused"))
    assert refused <= 0.05 * streams, outcomes
