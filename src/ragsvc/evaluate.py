"""Retrieval quality on a QA set: hit@k by page and MRR, through the server's own pipeline.

A QA line is `{"document", "question", "answer", "pages"}`; a question counts as a hit at k
when any of its expected pages is among the pages of the top k sources.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ragsvc.answering import plan_answer
from ragsvc.backends import Backends, make_backends
from ragsvc.config import Settings
from ragsvc.ingestion import UploadedFile, ingest_files
from ragsvc.schemas import AskRequest
from ragsvc.tokens import hash_token, new_token


@dataclass
class Report:
    ks: tuple[int, ...]
    hits: dict[int, int] = field(default_factory=dict)
    reciprocal_ranks: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def questions(self) -> int:
        return len(self.reciprocal_ranks)

    def hit_at(self, k: int) -> float:
        return self.hits.get(k, 0) / max(self.questions, 1)

    @property
    def mrr(self) -> float:
        return sum(self.reciprocal_ranks) / max(self.questions, 1)

    def table(self) -> str:
        head = " | ".join(f"hit@{k}" for k in self.ks)
        row = " | ".join(f"{self.hit_at(k):.2f}" for k in self.ks)
        return f"| questions | {head} | MRR |\n|---|{'---|' * len(self.ks)}---|\n" + (
            f"| {self.questions} | {row} | {self.mrr:.3f} |"
        )


async def evaluate(
    qa_file: Path, pdf_dir: Path, settings: Settings, backends: Backends | None = None,
    ks: tuple[int, ...] = (1, 3, 5),
) -> Report:  # fmt: skip
    """Ingest the QA set's PDFs into a throwaway session and rank each question."""
    lines = [json.loads(line) for line in qa_file.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        settings = settings.model_copy(update={"data_dir": Path(scratch), "history_turns": 0})
        backends = backends or make_backends(settings)
        token_hash = hash_token(new_token())
        await backends.store.create_session(token_hash, timedelta(hours=1))
        names = sorted({line["document"] for line in lines})
        uploads = [UploadedFile(name, (pdf_dir / name).read_bytes()) for name in names]
        documents = await ingest_files(backends, settings, token_hash, uploads)
        ids = {doc.filename: doc.id for doc in documents}
        report = Report(ks=ks)
        for line in lines:
            request = AskRequest(
                question=line["question"], top_k=max(ks), document_ids=[ids[line["document"]]]
            )
            plan = await plan_answer(backends, settings, token_hash, request)
            await plan.pieces.aclose()  # type: ignore[attr-defined]
            pages = [source.page for source in plan.sources]
            rank = next((i for i, p in enumerate(pages, 1) if p in line["pages"]), None)
            report.reciprocal_ranks.append(1 / rank if rank else 0.0)
            for k in ks:
                report.hits[k] = report.hits.get(k, 0) + int(rank is not None and rank <= k)
            if rank is None or rank > 1:
                report.misses.append(f"{line['question']} -> pages {pages}, want {line['pages']}")
    return report
