"""Server CPU per extractive answer against the bare stack (bench/floor_app.py): one
keep-alive client asking one question after another, so the figure is the answer path's
own cost, with no queueing and no contention between answers. CPU is read from the server
process tree (/proc), before and after a run of answers.

The target's baseline is issue 25's bare stack: FastAPI + sse-starlette on uvicorn
replaying the same events, one write each. The same stack sending them in two writes, as
ragsvc batches an extractive answer, is printed beside it: it costs less than retrieval
alone, so it is the HTTP floor, not a baseline a whole answer can come within 2x of.

Usage: python bench/answer_cpu.py [answers]   (also called by bench/load.py)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from load import QUESTIONS, ROOT, cpu_seconds, paper_bytes
from tests.support.server import free_port, server_process, stop

WARM_UP = 50  # answers before measuring: the memos warm, as a running server's are


@dataclass(frozen=True)
class AnswerCpu:
    ragsvc_ms: float
    floor_ms: float  # the bare stack replaying the events, one write each
    batched_ms: float  # the same stack, the events in two writes

    @property
    def ratio(self) -> float:
        return self.ragsvc_ms / self.floor_ms

    def line(self) -> str:
        return (
            f"Server CPU per extractive answer (one keep-alive client, answers in a row): "
            f"ragsvc {self.ragsvc_ms:.2f} ms, the bare stack replaying its events "
            f"{self.floor_ms:.2f} ms: {self.ratio:.2f}x (target <= 2.0x); the stack alone "
            f"sending them in two writes {self.batched_ms:.2f} ms "
            f"({self.ragsvc_ms / self.batched_ms:.2f}x)"
        )


def ms_per_answer(base: str, pid: int, token: str | None, answers: int) -> float:
    """Ask `answers` questions in a row (after a warm-up) on one connection."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for n in range(WARM_UP):
            ask(http, n)
        before = cpu_seconds(pid)
        for n in range(answers):
            ask(http, n)
        return 1000 * (cpu_seconds(pid) - before) / answers


def ask(http: httpx.Client, n: int) -> bytes:
    """The `n`th question's whole answer stream; an answer not ending with done raises."""
    reply = http.post("/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
    reply.raise_for_status()
    if b"event: done" not in reply.content:
        raise RuntimeError(f"the answer did not end with done: {reply.content[-300:]!r}")
    return reply.content


def ragsvc(answers: int) -> tuple[float, bytes]:
    """CPU per answer of `ragsvc serve` (rate limit raised), and one answer's bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {"RAGSVC_ASK_RATE_PER_MINUTE": "0", "RAGSVC_LOG_LEVEL": "warning"}
        with server_process(Path(scratch) / "data", **env) as (base, process):
            data = paper_bytes()
            upload = httpx.post(f"{base}/upload", files={"files": ("p.pdf", data)}, timeout=120)
            token = upload.raise_for_status().json()["token"]
            ms = ms_per_answer(base, process.pid, token, answers)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as h:
                return ms, ask(h, 0)


def floor(answers: int, recorded: bytes, writes: str) -> float:
    """CPU per answer of bench/floor_app.py streaming the same bytes (`writes`: `events`,
    one write per event, or `batched`)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "answer.sse"
        path.write_bytes(recorded)
        command = [
            sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(ROOT / "bench"),
            "--host", "127.0.0.1", "--port", str(port), "--http", "httptools", "--loop",
            "uvloop", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            env={**os.environ, "RAGSVC_FLOOR_ANSWER": str(path), "RAGSVC_FLOOR_WRITES": writes},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _until_up(base)
            return ms_per_answer(base, process.pid, None, answers)
        finally:
            stop(process, 10)


def _until_up(base: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        subprocess.run(["sleep", "0.1"], check=True)
    raise RuntimeError(f"the floor server at {base} did not start")


def measure(answers: int = 1000) -> AnswerCpu:
    ours, recorded = ragsvc(answers)
    return AnswerCpu(ours, floor(answers, recorded, "events"), floor(answers, recorded, "batched"))


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000).line())
