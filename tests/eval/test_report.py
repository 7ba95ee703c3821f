"""The quality scores: answer recall, and a report's figures overall and per kind."""

from __future__ import annotations

import json

import pytest

from ragsvc.eval.report import Report, answer_recall, render, score
from ragsvc.text.terms import content_words


def test_content_words_are_stemmed_without_stop_words_and_keep_numbers():
    assert content_words("The workers merged 1,283 values [2] in 28.4 s") == {
        "worker",
        "merg",
        "1,283",
        "valu",
        "28.4",
        "s",
    }


@pytest.mark.parametrize(
    ("answer", "recall"),
    [
        ("Backup tasks finish stragglers.", 1.0),  # every content word, inflected otherwise
        ("A backup task [1].", 2 / 4),
        ("The paper describes MapReduce.", 0.0),
        ("", 0.0),
    ],
)
def test_answer_recall_is_the_share_of_the_references_content_stated(answer, recall):
    assert answer_recall("Backup tasks finishing the stragglers", answer) == pytest.approx(recall)


def line(kind: str, pages: list[int], answer: str = "the keeper writes in a logbook") -> dict:
    return {"question": f"q {kind}", "kind": kind, "pages": pages, "answer": answer}


def test_a_report_scores_overall_and_per_kind():
    report = Report("defaults")
    # fact: right page first, one right citation and one wrong; table: right page third
    report.outcomes.append(score(line("fact", [3]), [3, 1, 2], [1, 2], "keeper logbook", 5.0))
    report.outcomes.append(score(line("table", [2]), [1, 4, 2], [], "nothing", 7.0))
    assert report.hit_at(1) == 0.5 and report.hit_at(3) == 1.0
    assert report.mrr == pytest.approx((1 + 1 / 3) / 2)
    assert report.citation_accuracy == 0.5
    assert report.answer_recall == pytest.approx((2 / 3 + 0) / 2)  # keeper, logbook of 3
    assert report.misses == ["q table -> pages [1, 4, 2], want [2]"]
    fact, table = report.by_kind()
    assert (fact.name, fact.hit_at(1), table.name, table.mrr) == ("fact", 1.0, "table", 1 / 3)
    text = render([report])
    assert "| fact | 1 | 1.00 |" in text and "| table | 1 | 0.00 |" in text
    [summary] = json.loads(render([report], as_json=True))
    assert [k["name"] for k in summary["by_kind"]] == ["fact", "table"]
    assert summary["answer_recall"] == 0.333


def test_a_line_without_a_kind_is_counted_apart():
    outcome = score({"question": "q", "pages": [1], "answer": "a"}, [1], [], "a", 1.0)
    assert outcome.kind == "(no kind)"
