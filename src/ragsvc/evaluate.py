"""Answer quality on a QA set, through the server's own use cases (ingest, retrieve, generate).

A QA line is `{"document", "question", "answer", "pages"}`. Per configuration it reports:
hit@k by page (any expected page among the top k sources), MRR, citation accuracy (share of
`[n]` markers in the answers whose source page is an expected page) and answer latency.
Each question is asked on its own (no conversation), restricted to its document.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ragsvc.answering import CITATION_MARKER, Answering, final_answer
from ragsvc.backends import make_backends
from ragsvc.config import Settings
from ragsvc.preparation import UploadedFile
from ragsvc.schemas import AskRequest
from ragsvc.state import AppState
from ragsvc.tokens import hash_token, new_token

KS = (1, 3, 5)
# The configurations that matter, as overrides of the settings under test.
COMPARISONS: dict[str, dict[str, Any]] = {
    "defaults (hybrid)": {},
    "dense only": {"retrieval": "dense"},
    "BM25 only": {"retrieval": "bm25"},
    "no document card": {"document_cards": False},
    "no MMR": {"mmr_lambda": 1.0},
    "chunks 500/80": {"chunk_size": 500, "chunk_overlap": 80},
    "chunks 1500/250": {"chunk_size": 1500, "chunk_overlap": 250},
    "MiniLM embedder [st]": {"embedder": "st"},
}
NEEDS = {"MiniLM embedder [st]": "sentence_transformers"}  # configurations needing an extra


@dataclass
class Report:
    name: str
    questions: int = 0
    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KS, 0))
    reciprocal_ranks: list[float] = field(default_factory=list)
    cited: int = 0
    cited_right: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def hit_at(self, k: int) -> float:
        return self.hits[k] / max(self.questions, 1)

    @property
    def mrr(self) -> float:
        return sum(self.reciprocal_ranks) / max(self.questions, 1)

    @property
    def citation_accuracy(self) -> float:
        return self.cited_right / max(self.cited, 1)

    @property
    def latency_p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    def record(self, line: dict[str, Any], pages: list[int], answer: str) -> None:
        """Score one question: the rank of its first right page, and its citations."""
        expected = set(line["pages"])
        rank = next((i for i, page in enumerate(pages, 1) if page in expected), None)
        self.questions += 1
        self.reciprocal_ranks.append(1 / rank if rank else 0.0)
        for k in KS:
            self.hits[k] += int(rank is not None and rank <= k)
        if rank != 1:
            self.misses.append(f"{line['question']} -> pages {pages}, want {sorted(expected)}")
        cited_pages = [pages[n - 1] for n in _markers(answer) if 1 <= n <= len(pages)]
        self.cited += len(_markers(answer))
        self.cited_right += sum(page in expected for page in cited_pages)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "questions": self.questions,
            **{f"hit@{k}": round(self.hit_at(k), 3) for k in KS},
            "mrr": round(self.mrr, 3),
            "citation_accuracy": round(self.citation_accuracy, 3),
            "latency_p50_ms": round(self.latency_p50_ms, 1),
        }


def _markers(answer: str) -> list[int]:
    return [int(m) for m in CITATION_MARKER.findall(answer)]


def table(reports: list[Report]) -> str:
    head = "| configuration | questions | hit@1 | hit@3 | hit@5 | MRR | citation acc. | p50 ms |"
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        rows.append(
            f"| {r.name} | {r.questions} | {r.hit_at(1):.2f} | {r.hit_at(3):.2f} | "
            f"{r.hit_at(5):.2f} | {r.mrr:.3f} | {r.citation_accuracy:.2f} | "
            f"{r.latency_p50_ms:.1f} |"
        )
    return "\n".join(rows)


def to_json(reports: list[Report]) -> str:
    return json.dumps([{**r.summary(), "misses": r.misses} for r in reports], indent=2, default=str)


def render(reports: list[Report], *, as_json: bool = False, misses: bool = False) -> str:
    """The reports as JSON, or as a table followed (if asked) by each configuration's misses."""
    if as_json:
        return to_json(reports)
    lines = [table(reports)]
    if misses:
        lines += [f"- {report.name}: {miss}" for report in reports for miss in report.misses]
    return "\n".join(lines)


async def evaluate(
    qa_file: Path, pdf_dir: Path, settings: Settings, name: str = "defaults (hybrid)"
) -> Report:
    """Ingest the QA set's PDFs into a throwaway session; ask every question."""
    lines = [json.loads(line) for line in qa_file.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        settings = settings.model_copy(update={"data_dir": Path(scratch), "history_turns": 0})
        backends = make_backends(settings)
        try:
            state = AppState.build(settings, backends)
            token_hash = hash_token(new_token())
            await backends.store.create_session(token_hash, timedelta(hours=1))
            names = sorted({line["document"] for line in lines})
            uploads = [UploadedFile(n, (pdf_dir / n).read_bytes()) for n in names]
            documents = await state.ingestion.ingest_files(token_hash, uploads)
            ids = {doc.filename: doc.id for doc in documents}
            report = Report(name)
            for line in lines:
                await _ask(report, line, ids[line["document"]], state.answering, token_hash)
        finally:
            await backends.aclose()
    return report


async def _ask(
    report: Report, line: dict[str, Any], document_id: str, answering: Answering, token_hash: str
) -> None:
    started = time.perf_counter()
    request = AskRequest(question=line["question"], top_k=max(KS), document_ids=[document_id])
    plan = await answering.plan(token_hash, request)
    done = await final_answer(answering.events(plan))
    report.latencies_ms.append((time.perf_counter() - started) * 1000)
    report.record(line, [source.page for source in plan.sources], done.answer)


async def compare(
    qa_file: Path, pdf_dir: Path, settings: Settings, names: list[str] | None = None
) -> list[Report]:
    """Run the QA set once per configuration of COMPARISONS (or the ones named)."""
    reports = []
    for name, overrides in COMPARISONS.items():
        if names and name not in names:
            continue
        module = NEEDS.get(name)
        if module and importlib.util.find_spec(module) is None:
            continue  # that extra is not installed here
        variant = settings.model_copy(update=overrides)
        reports.append(await evaluate(qa_file, pdf_dir, variant, name))
    return reports
