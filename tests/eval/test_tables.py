"""`ragsvc eval`'s output: every run over all sets, then per set, kind and document, and
leave-one-document-out once configurations are compared; or the same as JSON."""

from __future__ import annotations

import json

from ragsvc.eval.qa_sets import QaLine
from ragsvc.eval.report import Report
from ragsvc.eval.scoring import Outcome
from ragsvc.eval.tables import render


def report(name: str, first: bool, answers: bool = True) -> Report:
    lines = [
        QaLine("papers_qa", "a.pdf", "q", "ref", (3,), "fact"),
        QaLine("docs_qa", "b.pdf", "q", "ref", (1,), "table"),
    ]
    outcomes = [
        Outcome(qa, ((qa.document, qa.pages[0] if first else 9),), 2.0, "ref" if answers else None)
        for qa in lines
    ]
    return Report(name, outcomes, answers)


def test_tables_per_set_kind_and_document_then_leave_one_out():
    reports = [
        report("defaults, in a row", True),
        report("no MMR, in a row", False),
        report("tutorial stack, alone", False, answers=False),
    ]
    text = render(reports)
    assert text.startswith("All sets:")
    assert "| defaults, in a row | 2 | 1.00 |" in text and "| no MMR, in a row | 2 | 0.00 |" in text
    assert "papers_qa:" in text and "docs_qa:" in text
    assert "| fact | 1 | 1.00 |" in text and "| table | 1 | 1.00 |" in text
    assert "tutorial stack, alone, by document:" in text
    assert "| tutorial stack, alone | 2 | 0.00 | 0.00 | 0.00 | 0.000 | 1.00 | – |" in text
    assert "Leave one document out" in text and "| a.pdf | 1 | defaults, in a row | 1.00 |" in text


def test_json_holds_the_same_figures():
    found = json.loads(render([report("defaults, in a row", True)], as_json=True))
    [run] = found["runs"]
    assert run["hit@1"] == 1.0 and [s["name"] for s in run["by_set"]] == ["papers_qa", "docs_qa"]
    assert found["leave_one_document_out"] == []
