"""Server CPU per extractive answer against the bare stack (bench/floor_app.py): one
keep-alive client asking one question after another, so the figure is the answer path's
own cost, with no queueing and no contention between answers. CPU is read from each server's
process tree (/proc); the servers are asked in turn, a block of answers each, so the shared
machine's load weighs on all of them alike.

The target's baseline is issue 25's bare stack: FastAPI + sse-starlette on uvicorn
replaying the same events, one write each. The same stack sending them in two writes, as
ragsvc batches an extractive answer, is printed beside it: it costs less than retrieval
alone, so it is the HTTP floor, not a baseline a whole answer can come within 2x of.

Usage: python bench/answer_cpu.py [answers]   (also called by bench/load.py)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from load import QUESTIONS, TICKS, cpu_seconds, floor_server, paper_bytes
from tests.support.server import server_process

WARM_UP = 50  # answers before measuring: the memos warm, as a running server's are
BLOCK = 50  # answers asked of one server before the next one's turn


@dataclass(frozen=True)
class AnswerCpu:
    ragsvc_ms: float
    floor_ms: float  # the bare stack replaying the events, one write each
    batched_ms: float  # the same stack, the events in two writes
    loop_ms: float  # ragsvc's event-loop thread alone; its worker threads took the rest

    @property
    def ratio(self) -> float:
        return self.ragsvc_ms / self.floor_ms

    def line(self) -> str:
        return (
            f"Server CPU per extractive answer (one keep-alive client, answers in a row): "
            f"ragsvc {self.ragsvc_ms:.2f} ms, the bare stack replaying its events "
            f"{self.floor_ms:.2f} ms: {self.ratio:.2f}x (target <= 2.0x); the stack alone "
            f"sending them in two writes {self.batched_ms:.2f} ms "
            f"({self.ragsvc_ms / self.batched_ms:.2f}x); ragsvc's event-loop thread "
            f"{self.loop_ms:.2f} ms, its worker threads {self.ragsvc_ms - self.loop_ms:.2f} ms"
        )


def ask(http: httpx.Client, n: int) -> bytes:
    """The `n`th question's whole answer stream; an answer not ending with done raises."""
    reply = http.post("/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
    reply.raise_for_status()
    if b"event: done" not in reply.content:
        raise RuntimeError(f"the answer did not end with done: {reply.content[-300:]!r}")
    return reply.content


@contextmanager
def ragsvc(src: str | None = None) -> Iterator[tuple[httpx.Client, int]]:
    """`ragsvc serve` (rate limit raised) holding the paper, warmed: its client and pid.
    `src`: another checkout's `src` to import ragsvc from (bench/answer_cpu_ab.py)."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {"RAGSVC_ASK_RATE_PER_MINUTE": "0", "RAGSVC_LOG_LEVEL": "warning"}
        if src is not None:
            env["PYTHONPATH"] = src  # ahead of this checkout's editable install
        with server_process(Path(scratch) / "data", **env) as (base, process):
            with httpx.Client(base_url=base, timeout=60) as http:
                upload = http.post("/upload", files={"files": ("p.pdf", paper_bytes())})
                token = upload.raise_for_status().json()["token"]
                http.headers["Authorization"] = f"Bearer {token}"
                for n in range(WARM_UP):
                    ask(http, n)
                yield http, process.pid


@contextmanager
def floor(recorded: bytes, writes: str) -> Iterator[tuple[httpx.Client, int]]:
    """bench/floor_app.py streaming the same bytes (`writes`: `events`, one write per
    event, or `batched`), warmed: its client and pid."""
    with floor_server(recorded, writes) as (base, process):
        with httpx.Client(base_url=base, timeout=60) as http:
            for n in range(WARM_UP):
                ask(http, n)
            yield http, process.pid


def ms_per_answer(servers: list[tuple[httpx.Client, int]], answers: int) -> list[float]:
    """CPU per answer of each server, asked in turn BLOCK answers at a time, so a change in
    the machine's load (it is shared) weighs on all of them alike; then the first server's
    event-loop thread alone."""
    cpu = [0.0] * (len(servers) + 1)
    for _ in range(answers // BLOCK):
        for n, (http, pid) in enumerate(servers):
            before, loop_before = cpu_seconds(pid), loop_seconds(pid)
            for i in range(BLOCK):
                ask(http, i)
            cpu[n] += cpu_seconds(pid) - before
            if n == 0:
                cpu[-1] += loop_seconds(pid) - loop_before
    return [1000 * seconds / (BLOCK * (answers // BLOCK)) for seconds in cpu]


def loop_seconds(pid: int) -> float:
    """utime + stime of the process's main thread: uvicorn runs its event loop there."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(answers: int = 1000) -> AnswerCpu:
    with ragsvc() as ours:
        recorded = ask(ours[0], 0)
        with floor(recorded, "events") as events, floor(recorded, "batched") as batched:
            return AnswerCpu(*ms_per_answer([ours, events, batched], answers))


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000).line())
