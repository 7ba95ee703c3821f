"""Query latency under concurrency, retrieval on a large session, event-loop lag while a
big PDF is ingested, and memory per 1,000 chunks. Servers run on loopback only."""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymupdf
from tests.support.server import serving_in_thread

ROOT = Path(__file__).resolve().parents[1]
RAMP_S = 0.3  # clients start spread over this many seconds

QUESTIONS = [
    "What is DeepSeek-R1?",
    "How does DeepSeek-R1-Zero use reinforcement learning?",
    "What is the reward model?",
    "How does it compare to OpenAI-o1 on AIME 2024?",
    "What is distillation used for?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Latencies:
    label: str
    clients: int
    retrieval: list[float] = field(default_factory=list)
    first_token_server: list[float] = field(default_factory=list)
    first_token_client: list[float] = field(default_factory=list)
    upstream: list[float] = field(default_factory=list)  # the upstream's own first token
    seconds: float = 0.0

    def overhead(self, q: float) -> float:
        """First token as the client saw it minus the upstream's own, at quantile q."""
        own = pct(self.upstream, q) if self.upstream else 0.0
        return pct(self.first_token_client, q) - own

    def row(self) -> str:
        def cell(v: list[float]) -> str:
            return f"{statistics.median(v):.1f} / {pct(v, 0.99):.1f}" if v else "–"

        rate = len(self.first_token_client) / self.seconds
        return (
            f"| {self.label} | {self.clients} | {rate:.0f} | {cell(self.retrieval)} | "
            f"{cell(self.first_token_server)} | {cell(self.first_token_client)} | "
            f"{cell(self.upstream)} | **{self.overhead(0.5):.1f} / {self.overhead(0.99):.1f}** |"
        )


async def one_ask(http: httpx.AsyncClient, headers: dict[str, str], q: str, out: Latencies) -> None:
    started = time.perf_counter()
    first: float | None = None
    async with http.stream("POST", "/ask", json={"question": q}, headers=headers) as reply:
        assert reply.status_code == 200, await reply.aread()
        async for line in reply.aiter_lines():
            if first is None and line.startswith("event: token"):
                first = (time.perf_counter() - started) * 1000
            elif line.startswith("data:") and '"timings"' in line:
                timings = json.loads(line[5:])["timings"]
                out.retrieval.append(timings["retrieval_ms"])
                out.first_token_server.append(timings["first_token_ms"])
    assert first is not None
    out.first_token_client.append(first)


async def load(
    base: str, headers: dict[str, str], clients: int, asks: int, label: str
) -> Latencies:
    """`clients` concurrent clients, each asking in a loop, `asks` questions in all. Client
    i starts i/clients of RAMP_S seconds late, so they do not all ask at the same instant."""
    out = Latencies(label, clients)
    # This process holds LangChain, torch and big PDFs; a full collection of them would
    # pause the measuring client for ~100 ms. Freeze what exists: the server is measured.
    gc.collect()
    gc.freeze()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        queue = list(range(asks))

        async def client(i: int) -> None:
            await asyncio.sleep(RAMP_S * i / clients)
            while queue:
                n = queue.pop()
                await one_ask(http, headers, QUESTIONS[n % len(QUESTIONS)], out)

        # The measuring client's own first request pays its set-up (~100 ms once): unmeasured.
        await one_ask(http, headers, QUESTIONS[0], Latencies("set-up", 0))
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        out.seconds = time.perf_counter() - started
    return out


@contextmanager
def fake_upstream(chunk_delay: float) -> Iterator[str]:
    """The fake OpenAI server in its own process (so the load generator does not slow it),
    streaming a chunk every `chunk_delay` seconds after an immediate first one."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", str(chunk_delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def upstream_first_tokens(base_url: str) -> list[float]:
    """What the fake upstream recorded since last asked: its own first-token times, ms."""
    reply = httpx.get(base_url.removesuffix("/v1") + "/fake/stats")
    return list(reply.json()["first_token_ms"])


def upload(
    base: str, data: bytes, name: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    reply = httpx.post(
        f"{base}/upload", files={"files": (name, data)}, headers=headers, timeout=600
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def generated_pdf(pages: int, seed: int = 0) -> bytes:
    """A text-only PDF of `pages` pages, about 4 chunks each; `seed` varies the content."""
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        text = " ".join(
            f"Section {number}.{i}: harbour log {seed}-{number}-{i} records tides, ships, "
            f"cargo weights and the keeper's remarks on weather and lamp maintenance."
            for i in range(28)
        )
        page.insert_textbox(pymupdf.Rect(50, 50, 550, 800), text, fontsize=9)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


@contextmanager
def loop_of(app: Any) -> Iterator[tuple[str, dict[str, asyncio.AbstractEventLoop]]]:
    """Serve `app` in a thread and hand back its event loop, for probing lag inside it."""
    box: dict[str, asyncio.AbstractEventLoop] = {}

    async def capturing(scope: Any, receive: Any, send: Any) -> None:
        box.setdefault("loop", asyncio.get_running_loop())
        await app(scope, receive, send)

    with serving_in_thread(capturing) as base:
        yield base, box


async def probe(stop: threading.Event, lags: list[float], interval: float = 0.005) -> None:
    """How late each 5 ms sleep wakes up: the loop's lag, in ms."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(interval)
        lags.append((time.perf_counter() - started - interval) * 1000)


def lag_during_upload(base: str, loop: asyncio.AbstractEventLoop, data: bytes) -> list[float]:
    stop, lags = threading.Event(), []
    future = asyncio.run_coroutine_threadsafe(probe(stop, lags), loop)
    upload(base, data, "big.pdf")
    stop.set()
    future.result(timeout=10)
    return lags


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settle() -> float:
    gc.collect()
    time.sleep(0.2)
    return rss_mb()
