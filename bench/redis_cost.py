"""What Redis copies of the event logs (RAGSVC_REDIS_URL) cost: server CPU per extractive
answer of one `ragsvc serve` process with and without them, a keep-alive client asking one
question after another (the issue's measure); and whether `--workers 2` sharing Redis
answers more questions a second than one process (from `make load`'s saturation phases).

Usage: python bench/redis_cost.py [answers]  (an empty Redis database claimed, or the one
RAGSVC_BENCH_REDIS_URL names; emptied after)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from answer_cpu import ask
from load import cpu_seconds, paper_bytes
from shared_redis import NO_REDIS, bench_redis
from tests.support.server import server_process

WARM = 30  # answers before measuring: the session cached, the memos filled
BLOCK = 50  # answers asked of one server before the other's turn


def cpu_per_answer(answers: int, redis_url: str) -> tuple[float, float]:
    """ms of server CPU per answer without and with Redis: two servers (one process each,
    the DeepSeek-R1 paper's session) asked in turn, BLOCK answers at a time, so a change
    in the machine's load (it is shared) weighs on both alike."""
    with _server(None) as plain, _server(redis_url) as shared:
        cpu = [0.0, 0.0]
        for _ in range(answers // BLOCK):
            for n, (http, pid) in enumerate((plain, shared)):
                before = cpu_seconds(pid)
                for i in range(BLOCK):
                    ask(http, i)
                cpu[n] += cpu_seconds(pid) - before
    count = BLOCK * (answers // BLOCK)
    return 1000 * cpu[0] / count, 1000 * cpu[1] / count


@contextmanager
def _server(redis_url: str | None) -> Iterator[tuple[httpx.Client, int]]:
    """A warmed server's client (the session's token set) and pid."""
    env = {"RAGSVC_ASK_RATE_PER_MINUTE": "0", "RAGSVC_LOG_LEVEL": "warning"}
    if redis_url:
        env["RAGSVC_REDIS_URL"] = redis_url
    data = paper_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        with server_process(Path(scratch) / "data", **env) as (base, process):
            with httpx.Client(base_url=base, timeout=60) as http:
                token = http.post("/upload", files={"files": ("p.pdf", data)}).json()["token"]
                http.headers["Authorization"] = f"Bearer {token}"
                for n in range(WARM):
                    ask(http, n)
                yield http, process.pid


def redis_rows(phases: list[Any], answers: int = 300) -> list[str]:
    """The two Redis targets as lines of docs/load.md (`phases`: make load's, if any)."""
    with bench_redis() as redis_url:
        if redis_url is None:
            return [f"Redis copies not measured: {NO_REDIS}."]
        without, with_redis = cpu_per_answer(answers, redis_url)
    rows = [
        "## Redis copies of the event logs",
        "",
        f"Server CPU per extractive answer, one process, one client asking {answers} "
        "questions one after another (bench/redis_cost.py):",
        "",
        "| server | CPU / answer |",
        "|---|---|",
        f"| without Redis | {without:.2f} ms |",
        f"| with `RAGSVC_REDIS_URL` | {with_redis:.2f} ms |",
        "",
        f"With Redis / without: {with_redis / without:.2f}× (target ≤ 1.2×).",
    ]
    saturated = {p.server: p.answers / p.seconds for p in phases if p.name == "saturation"}
    if "1 process" in saturated and "2 workers + Redis" in saturated:
        one, two = saturated["1 process"], saturated["2 workers + Redis"]
        rows.append(
            f"At saturation, 2 workers + Redis answer {two:.0f}/s against {one:.0f}/s for one "
            f"process: {two / one:.2f}× (target > 1×)."
        )
    return rows


if __name__ == "__main__":
    print("\n".join(redis_rows([], int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
