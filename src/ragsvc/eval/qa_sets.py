"""The question sets `ragsvc eval` reads: one JSON object per line,
`{"document", "question", "answer", "pages"}` and optionally `"kind"` (global, concept,
fact, table, compare, section, number, procedure, definition, unanswerable), `"keys"` (the
key terms a good answer states) and `"answerable"` (false: the document does not hold the
answer, and `pages` is empty). A set is named after its file (`papers_qa`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NO_KIND = "(no kind)"


@dataclass(frozen=True)
class QaLine:
    set: str
    document: str
    question: str
    answer: str
    pages: tuple[int, ...]
    kind: str = NO_KIND
    keys: tuple[str, ...] = ()
    answerable: bool = True

    @classmethod
    def of(cls, qa_set: str, data: dict[str, Any]) -> QaLine:
        return cls(
            set=qa_set,
            document=data["document"],
            question=data["question"],
            answer=data["answer"],
            pages=tuple(data["pages"]),
            kind=data.get("kind", NO_KIND),
            keys=tuple(data.get("keys", ())),
            answerable=data.get("answerable", True),
        )


def read_sets(qa_files: Iterable[Path]) -> list[QaLine]:
    """Every line of every set, in file order."""
    return [
        QaLine.of(qa_file.stem, json.loads(line))
        for qa_file in qa_files
        for line in qa_file.read_text().splitlines()
        if line.strip()
    ]


def pdf_path(pdf_dir: Path, name: str) -> Path:
    """The PDF a line names: in `pdf_dir`, or in a folder below it (../shared/data/docs)."""
    direct = pdf_dir / name
    if direct.exists():
        return direct
    found = sorted(pdf_dir.rglob(name))
    if not found:
        raise FileNotFoundError(f"{name} is neither in {pdf_dir} nor in a folder below it")
    return found[0]


def by_document(lines: list[QaLine]) -> dict[str, list[QaLine]]:
    """The lines of each document, in file order, documents in order of first appearance."""
    grouped: dict[str, list[QaLine]] = {}
    for line in lines:
        grouped.setdefault(line.document, []).append(line)
    return grouped


def by_set(lines: list[QaLine]) -> dict[str, list[QaLine]]:
    grouped: dict[str, list[QaLine]] = {}
    for line in lines:
        grouped.setdefault(line.set, []).append(line)
    return grouped
