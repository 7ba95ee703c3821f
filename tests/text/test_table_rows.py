"""Table rows as text: "column: value" pairs under a header, "label: values" without one,
told apart from prose, read back without their column names; and "Table N" captions."""

from __future__ import annotations

import pytest

from ragsvc.text.table_rows import CAPTION, header_row, is_row, label_row, row_values


def test_a_row_under_a_header_pairs_each_value_with_its_column():
    header, values = ["harbour", "ships", "cargo (t)"], ["Dover", "412", "9,300"]
    assert header_row(header, values) == "harbour: Dover; ships: 412; cargo (t): 9,300"
    assert header_row(["", "ships"], ["Dover", "412"]) == "Dover; ships: 412"  # no name: alone


def test_a_header_and_a_row_of_different_widths_are_refused():
    with pytest.raises(ValueError):
        header_row(["harbour", "ships"], ["Dover"])


def test_a_row_without_a_header_is_its_label_then_its_values():
    assert label_row(["Input data read", "3,288 TB"]) == "Input data read: 3,288 TB"
    assert label_row(["Machines", "157", "1,800"]) == "Machines: 157, 1,800"


@pytest.mark.parametrize(
    ("sentence", "row"),
    [
        ("harbour: Dover; ships: 412; cargo (t): 9,300", True),
        ("Input data read: 3,288 TB", True),
        ("religion: Catholic; <$10k: 418", True),
        ("Pilots boarded every ship that entered the harbour.", False),  # prose
        ("harbour: Dover; ships", False),  # a pair missing its value
        ("A label far too long to be the name of any column at all: 7", False),
    ],
)
def test_rows_are_told_from_prose(sentence: str, row: bool):
    assert is_row(sentence) is row


def test_a_rows_own_words_leave_the_column_names_out():
    assert row_values("harbour: Dover; ships: 412").split() == ["Dover", "412"]
    assert row_values("Input data read: 3,288 TB") == "Input data read: 3,288 TB"  # its label


@pytest.mark.parametrize(
    ("line", "caption"),
    [
        ("Table 2: Ships per harbour.", True),
        ("TABLE IV. Results", True),
        ("Tab. 3 Pilots", True),
        ("Tables 2 and 3 compare the harbours.", False),
        ("Table of contents", False),
        ("The Table 2 results", False),  # a caption starts its line
    ],
)
def test_captions_start_with_table_and_its_number(line: str, caption: bool):
    assert bool(CAPTION.match(line)) is caption
