"""Content words: lower-cased, stop words out, stemmed in the text's language, numbers whole,
[n] markers ignored."""

from __future__ import annotations

from ragsvc.text.terms import content_words, question_terms, without_question_form


def test_stop_words_go_and_words_are_stemmed():
    words = content_words("The Pilots are boarding the ships of the harbour")
    assert words == {"pilot", "board", "ship", "harbour"}


def test_numbers_stay_whole_and_markers_are_not_numbers():
    words = content_words("Cargo rose 5% to 3,288 tonnes, or 28.4 per ship [2][17].")
    assert {"5%", "3,288", "28.4"} <= words
    assert not words & {"2", "17", "3", "288", "28", "4"}


def test_a_text_is_read_in_its_own_language():
    german = "Die Wärter zündeten die Lampen an"
    assert content_words(german, "de") == {"wart", "zund", "lamp"}
    assert content_words(german) == {"die", "wärter", "zündeten", "lampen"}  # as English


def test_an_unknown_language_is_read_as_english():
    assert content_words("the running ships", "xx") == content_words("the running ships")


def test_a_question_is_read_without_the_words_it_is_asked_with():
    assert question_terms("How many pilots do I need?") == {"pilot", "need"}
    assert question_terms("combien de pilotes faut-il ?", "fr") == content_words(
        "pilotes faut-il", "fr"
    )
    assert question_terms("what does it do?") == content_words("what does it do?")  # nothing else


def test_the_words_a_question_is_asked_with_go_but_not_from_inside_a_name():
    kept = without_question_form("what's a t-test in R&D, and how does P{Q}R help?").split()
    assert kept == ["'", "t-test", "R&D,", "P{Q}R", "help?"]
