"""`make bench`: every performance figure of docs/benchmarks.md, measured in one run here.

Writes docs/benchmarks.md and docs/benchmarks.png. Servers listen on loopback only; the
load generator runs on the same 2-core machine, so it competes with the server for CPU
(figures are conservative for the server).
"""

from __future__ import annotations

import asyncio
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_bench import IngestResult, langchain_baseline, ragsvc_http, raw_embedder  # noqa: E402
from query_bench import (  # noqa: E402
    Latencies,
    generated_pdf,
    lag_during_upload,
    load,
    loop_of,
    pct,
    settle,
    upload,
)
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.server import running_server  # noqa: E402

from ragsvc.app import create_app  # noqa: E402
from ragsvc.config import Settings  # noqa: E402
from ragsvc.embeddings import WordLlamaEmbedder  # noqa: E402

PAPER = ROOT.parent / "shared" / "data" / "DeepSeek_R1.pdf"
CONCURRENCY = {1: 30, 10: 100, 100: 300}  # clients -> questions asked in all


def startup(rounds: int = 3) -> list[float]:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            with running_server(Path(scratch) / "data"):
                times.append(time.perf_counter() - started)
    return times


def ingest(big: Path) -> list[IngestResult]:
    model = WordLlamaEmbedder()
    results = []
    with tempfile.TemporaryDirectory() as scratch, running_server(Path(scratch) / "data") as base:
        for pdf, rounds in ((PAPER, 7), (big, 2)):
            results.append(ragsvc_http(base, pdf, rounds))
            results.append(langchain_baseline(pdf, model, rounds))
            results.append(raw_embedder(pdf, model, rounds))
    return results


def queries() -> list[Latencies]:
    out = []
    unlimited = {"RAGSVC_ASK_RATE_PER_MINUTE": "0"}
    with tempfile.TemporaryDirectory() as scratch:
        with running_server(Path(scratch) / "data", **unlimited) as base:
            token = upload(base, PAPER.read_bytes(), PAPER.name)["token"]
            headers = {"Authorization": f"Bearer {token}"}
            for clients, asks in CONCURRENCY.items():
                out.append(asyncio.run(load(base, headers, clients, asks, "extractive")))
    with FakeOpenAI().running() as fake, tempfile.TemporaryDirectory() as scratch:
        env = {
            "RAGSVC_GENERATOR": "openai",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "bench",
            "RAGSVC_ASK_RATE_PER_MINUTE": "0",
        }
        with running_server(Path(scratch) / "data", **env) as base:
            token = upload(base, PAPER.read_bytes(), PAPER.name)["token"]
            headers = {"Authorization": f"Bearer {token}"}
            for clients, asks in CONCURRENCY.items():
                label = "openai (instant local upstream)"
                out.append(asyncio.run(load(base, headers, clients, asks, label)))
    return out


def large_session(big_pdfs: list[bytes]) -> dict[str, float]:
    """Retrieval on a ~10,000-chunk session, memory per 1,000 chunks, loop lag in ingest."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", ask_rate_per_minute=0)
        with loop_of(create_app(settings)) as (base, box):
            before = settle()
            token = httpx.post(f"{base}/sessions").json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            chunks = sum(
                upload(base, data, f"log{i}.pdf", headers)["documents"][0]["chunks"]
                for i, data in enumerate(big_pdfs[:-1])
            )
            per_thousand = (settle() - before) / chunks * 1000
            latencies = asyncio.run(load(base, headers, 1, 40, "10k-chunk session"))
            lags = lag_during_upload(base, box["loop"], big_pdfs[-1])
    return {
        "chunks": chunks,
        "memory_mb_per_1000": per_thousand,
        "retrieval_p50": statistics.median(latencies.retrieval),
        "retrieval_p99": pct(latencies.retrieval, 0.99),
        "lag_p50": statistics.median(lags),
        "lag_p99": pct(lags, 0.99),
        "lag_max": max(lags),
    }


def chart(ingests: list[IngestResult], latencies: list[Latencies], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r.name.split(" (")[0] for r in ingests[:3]]
    for offset, group, label in (
        (0, ingests[:3], "DeepSeek-R1, 22 p."),
        (1, ingests[3:], "500 p."),
    ):
        xs = [i * 3 + offset for i in range(3)]
        left.bar(xs, [r.median * 1000 for r in group], label=label)
    left.set_xticks([i * 3 + 0.5 for i in range(3)], names, fontsize=8)
    left.set_ylabel("ingest time, ms (lower is better)")
    left.set_yscale("log")
    left.legend()
    for label in sorted({lat.label for lat in latencies}):
        rows = [lat for lat in latencies if lat.label == label]
        right.plot(
            [r.clients for r in rows],
            [statistics.median(r.first_token_client) for r in rows],
            marker="o",
            label=label,
        )
    right.set_xscale("log")
    right.set_xlabel("concurrent clients")
    right.set_ylabel("first token seen by client, p50 ms")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(
    starts: list[float], ingests: list[IngestResult], lats: list[Latencies], big: dict
) -> str:
    paper_ratio = ingests[1].median / ingests[0].median
    big_ratio = ingests[4].median / ingests[3].median
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {datetime.date.today()} on this machine (2 cores, 24 GiB);",
        "the load generator shares the 2 cores with the server. Regenerate with `make bench`.",
        "",
        "![ingest and first-token latency](benchmarks.png)",
        "",
        "## Ingest (same embedder everywhere: the bundled wordllama)",
        "",
        "| pipeline | pages | chunks | median ms | pages/s | chunks/s |",
        "|---|---|---|---|---|---|",
        *[r.row() for r in ingests],
        "",
        f"ragsvc vs the LangChain baseline: **{paper_ratio:.1f}x** faster on DeepSeek-R1, "
        f"**{big_ratio:.1f}x** on the 500-page PDF. ragsvc's figure is a full HTTP upload "
        "(multipart, validation, layout-aware parsing, card, BM25 and FAISS, durable write) "
        "until the document is ready; the baseline only builds an in-memory index.",
        "",
        "## Query latency (ms, p50 / p99)",
        "",
        "| generator | clients | retrieval (server) | first token (server) "
        "| first token (client) |",
        "|---|---|---|---|---|",
        *[lat.row() for lat in lats],
        "",
        "## Large session, memory, event loop, start-up",
        "",
        "| measure | value |",
        "|---|---|",
        f"| retrieval on a {big['chunks']:.0f}-chunk session, p50 / p99 | "
        f"{big['retrieval_p50']:.1f} / {big['retrieval_p99']:.1f} ms |",
        f"| memory per session per 1,000 chunks (RSS) | {big['memory_mb_per_1000']:.1f} MB |",
        f"| event-loop lag while a 500-page PDF is ingested, p50 / p99 / max | "
        f"{big['lag_p50']:.1f} / {big['lag_p99']:.1f} / {big['lag_max']:.1f} ms |",
        f"| start-up to /readyz 200, median of {len(starts)} | {statistics.median(starts):.2f} s |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        big_pdfs = [generated_pdf(500, seed) for seed in range(6)]
        big = Path(scratch) / "generated_500_pages.pdf"
        big.write_bytes(big_pdfs[0])
        starts = startup()
        ingests = ingest(big)
        lats = queries()
        session = large_session(big_pdfs)
        chart(ingests, lats, ROOT / "docs" / "benchmarks.png")
    text = report(starts, ingests, lats, session)
    (ROOT / "docs" / "benchmarks.md").write_text(text)
    print(text)
    print(f"(bench took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
