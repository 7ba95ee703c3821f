"""`make load`: many concurrent SSE streams against a real `ragsvc serve` on loopback, the
rate limits raised, the embedded defaults (extractive answers). Reports answers/s, first
token p50/p99 as clients see it, errors, the server's peak RSS and open files, and its CPU
per answer; writes docs/load.md. Bounded: about a minute.

Usage: python bench/load.py [streams] [seconds]
"""

from __future__ import annotations

import asyncio
import datetime
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_pdf  # noqa: E402
from tests.server import server_process  # noqa: E402

PAPER = ROOT.parent / "shared" / "data" / "DeepSeek_R1.pdf"
QUESTIONS = [
    "What is DeepSeek-R1?",
    "How does reinforcement learning improve reasoning?",
    "What is the reward model?",
    "How does it compare to OpenAI-o1?",
    "What is distillation used for?",
]
SESSIONS = 20  # the streams share these sessions' documents
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    streams: int
    seconds: float = 0.0
    first_token_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_fds: int = 0

    @property
    def answers(self) -> int:
        return len(self.first_token_ms)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def watch(pid: int, run: Run, stop: threading.Event) -> None:
    """Sample the server's memory and open files while the load runs."""
    while not stop.wait(0.1):
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
        run.peak_rss_mb = max(run.peak_rss_mb, rss)
        run.peak_fds = max(run.peak_fds, len(os.listdir(f"/proc/{pid}/fd")))


async def stream_answers(http: httpx.AsyncClient, token: str, deadline: float, run: Run) -> None:
    """One client: ask, read the stream to its end, ask again, until the deadline."""
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while time.monotonic() < deadline:
        question = {"question": QUESTIONS[n % len(QUESTIONS)]}
        n += 1
        try:
            first, error = await one_answer(http, headers, question)
        except httpx.HTTPError as exc:
            first, error = None, type(exc).__name__
        if error is not None:
            run.errors.append(error)
        elif first is not None:
            run.first_token_ms.append(first * 1000)


async def one_answer(
    http: httpx.AsyncClient, headers: dict[str, str], question: dict[str, str]
) -> tuple[float | None, str | None]:
    """Seconds to the first token, and what went wrong if the answer did not end done."""
    started, first, last = time.perf_counter(), None, None
    async with http.stream("POST", "/ask", json=question, headers=headers) as reply:
        if reply.status_code != 200:
            return None, str(reply.status_code)
        async for line in reply.aiter_lines():
            if first is None and line == "event: token":
                first = time.perf_counter() - started
            elif line.startswith("event: "):
                last = line.removeprefix("event: ")
    return first, None if last == "done" and first is not None else f"ended with {last}"


async def load(base: str, tokens: list[str], run: Run, seconds: float) -> None:
    limits = httpx.Limits(max_connections=run.streams, max_keepalive_connections=run.streams)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        deadline = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                stream_answers(http, tokens[i % len(tokens)], deadline, run)
                for i in range(run.streams)
            )
        )
        run.seconds = time.perf_counter() - started


def sessions(base: str) -> list[str]:
    data = PAPER.read_bytes() if PAPER.exists() else make_pdf(QUESTIONS * 4)
    tokens = []
    for _ in range(SESSIONS):
        reply = httpx.post(f"{base}/upload", files={"files": ("paper.pdf", data)}, timeout=120)
        reply.raise_for_status()
        tokens.append(reply.json()["token"])
    return tokens


def measure(streams: int, seconds: float) -> Run:
    raised = {
        "RAGSVC_ASK_RATE_PER_MINUTE": "0",
        "RAGSVC_SESSION_RATE_PER_MINUTE": "0",
        "RAGSVC_MAX_ANSWERS": str(max(256, streams)),
        "RAGSVC_MAX_ANSWERS_PER_SESSION": str(streams),
        "RAGSVC_LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryDirectory() as scratch:
        with server_process(Path(scratch) / "data", **raised) as (base, server):
            tokens = sessions(base)
            run, stop = Run(streams), threading.Event()
            watcher = threading.Thread(target=watch, args=(server.pid, run, stop))
            watcher.start()
            cpu = cpu_seconds(server.pid)
            asyncio.run(load(base, tokens, run, seconds))
            run.cpu_s = cpu_seconds(server.pid) - cpu
            stop.set()
            watcher.join()
    return run


def report(run: Run) -> str:
    today = datetime.date.today().isoformat()
    cpu_ms = 1000 * run.cpu_s / max(run.answers, 1)
    rows = [
        f"# Load: {run.streams} concurrent SSE streams",
        "",
        f"Measured by `make load` on {today}: a real `ragsvc serve` on loopback with the",
        "embedded defaults (extractive answers), the rate limits raised, and the load",
        f"generator (one Python process, httpx) on the same 2 cores. {run.streams} clients",
        f"each ask, read the whole stream, and ask again, for {run.seconds:.0f} s, across",
        f"{SESSIONS} sessions holding the DeepSeek-R1 paper.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| answers | {run.answers} ({run.answers / run.seconds:.0f}/s) | |",
        f"| errors | {len(run.errors)} | 0 |",
        f"| first token p50 / p99 (client) | {statistics.median(run.first_token_ms or [0]):.0f} / "
        f"{pct(run.first_token_ms, 0.99):.0f} ms | p99 < 1000 ms |",
        f"| server CPU per answer | {cpu_ms:.2f} ms | ≤ 3 ms |",
        f"| server peak RSS | {run.peak_rss_mb:.0f} MB | |",
        f"| server peak open files | {run.peak_fds} | |",
    ]
    if run.errors:
        kinds = {kind: run.errors.count(kind) for kind in set(run.errors)}
        rows += ["", f"Errors by kind: {kinds}"]
    return "\n".join(rows) + "\n"


def main() -> None:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    text = report(measure(streams, seconds))
    (ROOT / "docs" / "load.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
