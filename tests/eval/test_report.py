"""A run's scores: page hits and citations over the answerable questions, unanswerable ones
said so, wrong refusals, per set, kind and document; and leave-one-document-out, which
scores on each document the configuration chosen on the others."""

from __future__ import annotations

import pytest

from ragsvc.eval.qa_sets import QaLine
from ragsvc.eval.report import Report, leave_one_document_out
from ragsvc.eval.scoring import Outcome


def line(document: str, kind: str = "fact", pages: tuple[int, ...] = (3,)) -> QaLine:
    answerable = bool(pages)
    keys = ("keeper",) if answerable else ()
    return QaLine("set", document, f"q {kind}", "the keeper logbook", pages, kind, keys, answerable)


def outcome(qa: QaLine, pages: list[int], cited: list[int], answer: str, found: bool = True):
    places = tuple((qa.document, p) for p in pages)
    return Outcome(qa, places, 5.0, answer, tuple((qa.document, p) for p in cited), found)


def test_answerable_questions_are_scored_and_the_others_said_so_or_not():
    report = Report("defaults, in a row")
    report.outcomes += [
        outcome(line("a.pdf"), [3, 1], [3, 1], "the keeper writes"),  # hit@1, citations 1 of 2
        outcome(line("a.pdf", "table", (2,)), [1, 4, 2], [], "x", found=False),  # wrongly refused
        outcome(line("b.pdf", "unanswerable", ()), [1], [], "The documents do not say.", False),
        outcome(line("b.pdf", "unanswerable", ()), [1], [1], "a guess [1]"),
    ]
    assert report.questions == 4 and len(report.answerable) == 2
    assert report.hit_at(1) == 0.5 and report.hit_at(3) == 1.0
    assert report.mrr == pytest.approx((1 + 1 / 3) / 2)
    assert report.citation_accuracy == 0.5  # over answerable questions' markers only
    assert report.keys_stated == 0.5 and report.wrong_refusals == 1
    assert report.unanswerable_said == 0.5
    assert [r.name for r in report.by_kind()] == ["fact", "table", "unanswerable"]
    assert [r.name for r in report.by_document()] == ["a.pdf", "b.pdf"]
    assert report.summary()["wrong_refusals"] == 1
    assert report.misses == [
        "a.pdf: q table -> [('a.pdf', 1), ('a.pdf', 4), ('a.pdf', 2)], want [2]"
    ]


def test_a_retrieval_only_baseline_has_no_answer_figures():
    baseline = Report("tutorial stack", [Outcome(line("a.pdf"), (("a.pdf", 3),), 1.0)], False)
    assert baseline.hit_at(1) == 1.0
    figures = baseline.summary()
    assert [figures[k] for k in ("citation_accuracy", "keys_stated", "wrong_refusals")] == [
        None,
        None,
        None,
    ]


def run(name: str, hits: dict[str, list[bool]]) -> Report:
    """A report whose questions on each document rank first or not."""
    report = Report(name)
    for document, firsts in hits.items():
        report.outcomes += [outcome(line(document), [3 if f else 1], [], "") for f in firsts]
    return report


def test_leaving_a_document_out_scores_the_choice_made_on_the_others():
    default = run("defaults", {"a": [True, False], "b": [False, False], "c": [True, True]})
    tuned = run("tuned", {"a": [True, True], "b": [True, True], "c": [False, False]})
    rows = {r.document: r for r in leave_one_document_out([default, tuned])}
    # left out a: on b and c the two tie (2 of 4), so the default stays and scores 0.5 on a
    assert (rows["a"].chosen, rows["a"].chosen_hit1) == ("defaults", 0.5)
    # left out b: on a and c the default wins (3 of 4 against 2 of 4)
    assert (rows["b"].chosen, rows["b"].chosen_hit1, rows["b"].default_hit1) == (
        "defaults",
        0.0,
        0.0,
    )
    # left out c: tuned wins on a and b (4 of 4 against 1 of 4), and fails on c
    assert (rows["c"].chosen, rows["c"].chosen_hit1, rows["c"].default_hit1) == ("tuned", 0.0, 1.0)
