"""Sentences: split at sentence ends but not after abbreviations nor across paragraphs, and
the signposts ("Section 5 has ...") told apart and left out of what is searched."""

from __future__ import annotations

import random
import re

import pytest

from ragsvc.text.sentences import (
    CONTENTS_SHARE,
    is_contents,
    is_signpost,
    is_table_of_contents,
    split_sentences,
    without_signposts,
)


def test_sentences_do_not_split_after_abbreviations():
    text = "Vaswani et al. proposed it. See Fig. 2 for details. It works! Does it? Yes."
    assert split_sentences(text) == [
        "Vaswani et al. proposed it.",
        "See Fig. 2 for details.",
        "It works!",
        "Does it?",
        "Yes.",
    ]


def test_a_paragraph_break_ends_a_sentence_and_a_lower_case_word_does_not_start_one():
    text = "Gauges drift in storms e.g.\n\nThe tide turns. then it rises again. 42 boats wait."
    assert split_sentences(text) == [
        "Gauges drift in storms e.g.",  # an abbreviation at a paragraph's end still ends it
        "The tide turns. then it rises again.",
        "42 boats wait.",
    ]


def test_abbreviations_of_forms_and_addresses_do_not_end_a_sentence():
    text = "Form W-12 (Rev. May 2020) of the U.S. Harbour Office. Ask St. Anne Inc. Today."
    assert split_sentences(text) == [
        "Form W-12 (Rev. May 2020) of the U.S. Harbour Office.",
        "Ask St. Anne Inc. Today.",
    ]


def test_blank_text_has_no_sentences():
    assert split_sentences("") == []
    assert split_sentences("\n\n  \n\n") == []


@pytest.mark.parametrize(
    ("sentence", "signpost"),
    [
        ("Section 5 has performance measurements for a variety of tasks.", True),
        ("In Section 2 we describe the gauges.", True),
        ("Chapters 3 and 4 cover the storms.", True),
        ("The remainder of this paper is organized as follows.", True),
        ("This report is structured as follows.", True),
        ("Section headings are set in bold.", False),  # no number: about sections, not one
        ("The gauges of section 5 drifted.", False),  # a section named inside a sentence
        ("Workers read their input split from the local disk.", False),
    ],
)
def test_sentences_about_the_papers_own_layout_are_signposts(sentence: str, signpost: bool):
    assert is_signpost(sentence) is signpost


def test_signposts_are_left_out_unless_nothing_else_is_left():
    text = "Gulls nest on cliffs. Section 3 describes the terns. Terns fly south in autumn."
    assert without_signposts(text) == "Gulls nest on cliffs. Terns fly south in autumn."
    only = "Section 2 describes the gulls. Section 3 describes the terns."
    assert without_signposts(only) == only
    plain = "Gulls nest on cliffs.\n\nTerns fly south."
    assert without_signposts(plain) == plain  # nothing left out: the text as it was


@pytest.mark.parametrize(
    "signpost",
    [
        "SECTION 3 describes the terns.",
        "The REST of this paper covers terns.",
        "This article is Organized as follows.",
        # letters a case-blind match takes for ASCII ones: the long s, the dotless i
        "\u017fection 3 describes the terns.",
        "The remainder of this paper is organ\u0131zed as follows.",
    ],
)
def test_signposts_are_found_whatever_their_case(signpost: str):
    assert is_signpost(signpost)
    text = f"{signpost} Gulls nest on cliffs."
    assert without_signposts(text) == "Gulls nest on cliffs."


@pytest.mark.parametrize(
    ("sentence", "contents"),
    [
        ("1.4 Overall Operation ........................ 12", True),
        ("3.2 Tides . . . . . . 7", True),
        ("Outline: Introduction; Harbours; Ships.", True),
        ("The outline of the harbour is drawn on page 3.", False),
        ("Gauges drift... then settle.", False),
    ],
)
def test_contents_lines_and_outlines_list_sections(sentence: str, contents: bool):
    assert is_contents(sentence) is contents


def test_a_passage_mostly_of_dot_leaders_is_a_table_of_contents():
    contents = "1 Tides .......... 3\n2 Gauges .......... 5\n3 Storms .......... 7"
    assert is_table_of_contents(contents)
    assert not is_table_of_contents("Gauges drift at dawn .... and at dusk, in every storm.")


def test_a_table_of_contents_is_told_as_the_leaders_alone_tell_it():
    draw = random.Random(0)
    for _ in range(3_000):
        text = "".join(draw.choices(". \n\ta1", k=draw.randint(1, 80)))
        leaders = sum(len(m.group()) for m in re.finditer(r"(?:\.\s?){4,}", text))
        assert is_table_of_contents(text) == (leaders >= CONTENTS_SHARE * len(text)), text
