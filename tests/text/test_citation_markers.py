"""The [n] markers of an answer: every one found, in order, repeats included; brackets that
hold anything but digits are not markers."""

from __future__ import annotations

from ragsvc.text.citation_markers import CITATION_MARKER, cited_numbers


def test_every_marker_is_read_in_order_with_repeats():
    answer = "Tides rise twice a day [2]. Pilots board at dawn [1][12], as before [2]."
    assert cited_numbers(answer) == [2, 1, 12, 2]


def test_brackets_around_anything_but_digits_are_not_markers():
    assert cited_numbers("See [a], [ 3], [3a], [] and [-1].") == []
    assert cited_numbers("No sources here.") == []


def test_markers_are_removed_whole():
    assert CITATION_MARKER.sub("", "Tides rise [1] and fall [23].") == "Tides rise  and fall ."
