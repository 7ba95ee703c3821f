"""The question sets: a line's fields with their defaults, a set named after its file, and a
document found in the PDF folder or in a folder below it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragsvc.eval.qa_sets import NO_KIND, by_document, by_set, pdf_path, read_sets


def test_lines_are_read_with_their_defaults(tmp_path: Path):
    qa = tmp_path / "docs_qa.jsonl"
    lines = [
        {"document": "a.pdf", "question": "q1", "answer": "x", "pages": [2]},
        {"document": "b.pdf", "question": "q2", "answer": "y", "pages": [], "kind": "unanswerable",
         "keys": [], "answerable": False},
        {"document": "a.pdf", "question": "q3", "answer": "z", "pages": [1, 4], "keys": ["k"]},
    ]  # fmt: skip
    qa.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    first, second, third = read_sets([qa])
    assert (first.set, first.kind, first.keys, first.answerable) == ("docs_qa", NO_KIND, (), True)
    assert (second.kind, second.answerable, second.pages) == ("unanswerable", False, ())
    assert third.pages == (1, 4) and third.keys == ("k",)
    assert list(by_document([first, second, third])) == ["a.pdf", "b.pdf"]
    assert [len(g) for g in by_document([first, second, third]).values()] == [2, 1]
    assert list(by_set([first, second])) == ["docs_qa"]


def test_a_document_is_found_in_a_folder_below(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "top.pdf").write_bytes(b"%PDF-")
    (tmp_path / "docs" / "below.pdf").write_bytes(b"%PDF-")
    assert pdf_path(tmp_path, "top.pdf") == tmp_path / "top.pdf"
    assert pdf_path(tmp_path, "below.pdf") == tmp_path / "docs" / "below.pdf"
    with pytest.raises(FileNotFoundError, match="nowhere.pdf"):
        pdf_path(tmp_path, "nowhere.pdf")
