"""Measure the service as a user meets it: a real `ragsvc serve` process on loopback.

Prints a Markdown table: start-up to /readyz 200, HTTP upload of the DeepSeek-R1 paper
until its document is ready, and /ask latencies (retrieval, first token, total) over
repeated questions. Run with `make bench`; figures are from this machine, this run.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server import running_server  # noqa: E402

PAPER = Path(__file__).resolve().parents[2] / "shared" / "data" / "DeepSeek_R1.pdf"
QUESTIONS = [
    "What is DeepSeek-R1?",
    "How does DeepSeek-R1-Zero use reinforcement learning?",
    "What is the reward model?",
    "How does it compare to OpenAI-o1 on AIME 2024?",
    "What is distillation used for?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ask(
    base: str, headers: dict[str, str], question: str,
    timings: dict[str, list[float]], client_first_token: list[float],
) -> None:  # fmt: skip
    """One streamed /ask: when the first token reached us, and the server's own timings."""
    started = time.perf_counter()
    first: float | None = None
    with httpx.stream("POST", f"{base}/ask", headers=headers, json={"question": question}) as reply:
        for line in reply.iter_lines():
            if first is None and line.startswith("event: token"):
                first = (time.perf_counter() - started) * 1000
            if line.startswith("data:") and '"timings"' in line:
                done = json.loads(line[5:])
                for key in timings:
                    timings[key].append(done["timings"][key])
    assert first is not None, "no token arrived"
    client_first_token.append(first)


def main(rounds: int = 5, asks: int = 40) -> None:
    startups, ingests = [], []
    timings: dict[str, list[float]] = {"retrieval_ms": [], "first_token_ms": [], "total_ms": []}
    client_first_token: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            with running_server(Path(scratch) / "data") as base:
                startups.append(time.perf_counter() - started)
                t0 = time.perf_counter()
                up = httpx.post(
                    f"{base}/upload", files={"files": (PAPER.name, PAPER.read_bytes())}, timeout=60
                )
                ingests.append(time.perf_counter() - t0)
                assert up.status_code == 201, up.text
                headers = {"Authorization": f"Bearer {up.json()['token']}"}
                for i in range(asks // rounds):
                    ask(base, headers, QUESTIONS[i % len(QUESTIONS)], timings, client_first_token)
    print(
        f"ragsvc bench: {rounds} server starts, {len(timings['total_ms'])} asks, "
        "DeepSeek-R1 (22 pages)\n"
    )
    print("| measure | p50 | p99 / max |\n|---|---|---|")
    print(
        f"| start-up to /readyz 200 (s) | {statistics.median(startups):.2f} | {max(startups):.2f} |"
    )
    print(
        f"| HTTP upload until ready (ms) | {statistics.median(ingests) * 1000:.0f} | "
        f"{max(ingests) * 1000:.0f} |"
    )
    for key, values in timings.items():
        print(
            f"| server {key} | {statistics.median(values):.1f} | {percentile(values, 0.99):.1f} |"
        )
    print(
        f"| client-seen first token (ms) | {statistics.median(client_first_token):.1f} | "
        f"{percentile(client_first_token, 0.99):.1f} |"
    )


if __name__ == "__main__":
    main()
