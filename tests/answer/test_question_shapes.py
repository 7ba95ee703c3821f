"""What a question's wording tells the extractive generator."""

from __future__ import annotations

import pytest

from ragsvc.answer.question_shapes import (
    asks_for_definition,
    asks_for_quantity,
    is_comparison,
    is_follow_up,
    names_in,
)


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What programming language is Hadoop written in?", ["Hadoop"]),
        ("How many parameters does GPT-3 have?", ["GPT-3"]),
        (
            "What BLEU score on WMT 2014 English-to-German?",
            ["BLEU", "WMT", "English-to-German", "2014"],
        ),
        ("Is it tidy? How do the two differ?", []),  # "How" opens a sentence
        ("What's a combiner and when would I use one?", []),
        ("What does 'melting' a dataset mean?", ["melting"]),
        ("What's Hoare's paper about?", ["Hoare"]),
        ("what's status 418 in this spec?", ["418"]),  # a precise number names something
        ("critère WCAG 2.2 ?", ["WCAG", "2.2"]),
        ("5 amps through 2 ohms, and 3,288 TB?", ["TB"]),  # an example's numbers, a count
    ],
)
def test_names_are_capitalised_inside_a_sentence_or_quoted(question: str, names: list[str]):
    assert names_in(question) == names


@pytest.mark.parametrize(
    ("question", "comparison"),
    [
        ("How is map work treated differently from reduce work?", True),
        ("How does proving a program compare with testing it?", True),
        ("Is tidy data just normalisation? How do the two differ?", True),
        ("How does the model encode token positions?", False),
        ("What are backup tasks for?", False),
    ],
)
def test_comparisons(question: str, comparison: bool):
    assert is_comparison(question) is comparison


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("and how does it compare to o1?", True),
        ("What about the second table?", True),
        ("Et pour les images porteuses d'information, critère 1.1 ?", True),
        ("is the other one the same?", True),
        ("why?", True),  # too short to stand alone
        ("How fast do peregrine falcons stoop?", False),
        ("is it ok to combine with AGPL code?", False),  # "it": the document, not a turn
        ("why are they called hams", False),
    ],
)
def test_follow_ups(question: str, follow_up: bool):
    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize(
    ("question", "quantity"),
    [
        ("how many agencies are in the program?", True),
        ("what % is withheld", True),
        ("max number of connections to one server?", True),
        ("combien de temps peut-on sortir ?", True),
        ("How long did the sort take?", True),
        ("How does the encoder work?", False),
        ("which agencies take part?", False),
    ],
)
def test_questions_asking_for_a_number(question: str, quantity: bool):
    assert asks_for_quantity(question) is quantity


@pytest.mark.parametrize(
    ("question", "definition"),
    [
        ("what does P{Q}R mean?", True),
        ("Installation Information - what is that", True),
        ("what is a combiner?", True),
        ("qu'est-ce qu'une attestation ?", True),
        ("how many layers does it have?", False),
        ("which methods are idempotent?", False),
        ("how do I hook up the water to the laser tube", False),
    ],
)
def test_questions_asking_what_something_is(question: str, definition: bool):
    assert asks_for_definition(question) is definition
