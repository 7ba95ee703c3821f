"""What is scored of one question: its sources' rank (right document and page), what its
answer cites, states (answer recall, key terms) and whether it said the documents do not
hold the answer."""

from __future__ import annotations

import pytest

from ragsvc.eval.qa_sets import QaLine
from ragsvc.eval.scoring import Outcome, answer_recall, keys_stated
from ragsvc.text.terms import content_words

LINE = QaLine("papers_qa", "tides.pdf", "When?", "at noon", (3,), "fact", ("noon",))


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


def test_key_terms_are_found_as_written_case_and_blanks_aside():
    assert keys_stated(("10 volts", "Ohm"), "It gives 10\nVolts, by ohm's law.") == 1.0
    assert keys_stated(("10 volts", "Ohm"), "It gives 10 V.") == 0.0
    assert keys_stated(("Convocation judiciaire",), "une CONVOCATION  judiciaire") == 1.0
    assert keys_stated(("2 meters", "300"), "300 divided by the MHz") == 0.5


def test_a_source_counts_on_the_right_page_of_the_right_document_only():
    outcome = Outcome(LINE, (("other.pdf", 3), ("tides.pdf", 2), ("tides.pdf", 3)), 1.0)
    assert outcome.rank == 3 and not outcome.right_document_first
    assert Outcome(LINE, (("tides.pdf", 3),), 1.0).rank == 1
    assert Outcome(LINE, (), 1.0).rank is None


def test_an_answer_is_scored_a_retrieval_only_outcome_is_not():
    answered = Outcome(LINE, (("tides.pdf", 3),), 1.0, "The tide turns at noon [1].")
    assert answered.keys_stated == 1.0 and answered.recall == 1.0 and not answered.refused
    refused = Outcome(LINE, (), 1.0, "The uploaded documents do not say.", found=False)
    assert refused.refused and refused.keys_stated == 0.0
    retrieval_only = Outcome(LINE, (("tides.pdf", 3),), 1.0)
    assert retrieval_only.recall is None and retrieval_only.keys_stated is None
    assert not retrieval_only.refused
