"""The PostgreSQL + Redis configuration (RAGSVC_STORE=postgres, RAGSVC_REDIS_URL): first
token for one client, retrieval on a ~10,000-chunk session once a replica has it cached, and
the first question on a replica that loads that session from PostgreSQL. Uses the machine's
PostgreSQL (a schema of its own, dropped after) and Redis (bench/shared_redis.py)."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from query_bench import load, pct, upload
from shared_redis import NO_REDIS, bench_redis
from tests.support.server import running_server

POSTGRES = os.environ.get("RAGSVC_BENCH_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


@contextmanager
def shared_engines() -> Iterator[dict[str, str]]:
    """The settings of a deployment on a fresh schema and an empty Redis database."""
    schema = f"ragsvc_bench_{uuid.uuid4().hex[:8]}"
    with bench_redis() as redis_url, psycopg.connect(POSTGRES, autocommit=True) as admin:
        if redis_url is None:
            raise RuntimeError(NO_REDIS)
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield {
                "RAGSVC_STORE": "postgres",
                "RAGSVC_DATABASE_URL": f"{POSTGRES}?options=-csearch_path%3D{schema}",
                "RAGSVC_REDIS_URL": redis_url,
                "RAGSVC_ASK_RATE_PER_MINUTE": "0",
            }
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_redis(paper: Path, big_pdfs: list[bytes]) -> dict[str, float]:
    with shared_engines() as env, tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        with running_server(data, **env) as base:
            token = upload(base, paper.read_bytes(), paper.name)["token"]
            headers = {"Authorization": f"Bearer {token}"}
            asyncio.run(load(base, headers, 1, 3, "warm-up"))
            one = asyncio.run(load(base, headers, 1, 30, "postgres+redis"))
            big_headers = {
                "Authorization": f"Bearer {httpx.post(f'{base}/sessions').json()['token']}"
            }
            chunks = sum(
                upload(base, pdf, f"log{i}.pdf", big_headers)["documents"][0]["chunks"]
                for i, pdf in enumerate(big_pdfs)
            )
            cached = asyncio.run(load(base, big_headers, 1, 40, "10k-chunk session"))
        with running_server(data, **env) as other:  # a replica that never saw the session
            started = time.perf_counter()
            reply = httpx.post(
                f"{other}/ask",
                json={"question": "What is DeepSeek-R1?"},
                headers={**big_headers, "Accept": "application/json"},
                timeout=120,
            )
            cold = (time.perf_counter() - started) * 1000
            assert reply.status_code == 200, reply.text
    return {
        "first_token_p50": statistics.median(one.first_token_client),
        "first_token_p99": pct(one.first_token_client, 0.99),
        "chunks": chunks,
        "retrieval_p50": statistics.median(cached.retrieval),
        "retrieval_p99": pct(cached.retrieval, 0.99),
        "cold_ms": cold,
    }


def rows(pg: dict[str, float]) -> list[str]:
    return [
        "## PostgreSQL + Redis (`RAGSVC_STORE=postgres`, `RAGSVC_REDIS_URL`)",
        "",
        "One `ragsvc serve` on the machine's PostgreSQL 15 and Redis 7, extractive generator.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| first token seen by one client, p50 / p99 (DeepSeek-R1 session) | "
        f"{pg['first_token_p50']:.1f} / {pg['first_token_p99']:.1f} ms |",
        f"| retrieval on a {pg['chunks']:.0f}-chunk session once cached, p50 / p99 | "
        f"{pg['retrieval_p50']:.1f} / {pg['retrieval_p99']:.1f} ms |",
        f"| first whole answer on another replica, loading that session from PostgreSQL | "
        f"{pg['cold_ms']:.0f} ms |",
        "",
    ]
