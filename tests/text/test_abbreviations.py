"""An abbreviation is spelled out by capitalised words whose initials spell it, or (mixed
case) by one word holding its letters in order from the first."""

from __future__ import annotations

import pytest

from ragsvc.text.abbreviations import long_forms, spelled_out


@pytest.mark.parametrize(
    ("name", "text", "spelled"),
    [
        ("AGPL", "the GNU Affero General Public License, version 3", True),
        ("BLS", "data of the Bureau of Labor Statistics", True),  # "of" skipped
        ("IT", "networking and information technology", False),  # lower case: not a name
        ("GPL", "the Public General License", False),  # initials out of order
        ("MHz", "frequencies in the Megahertz range", True),
        ("kWh", "the kilowatt hour", False),  # one word holds them, or none does
        ("RFC", "a Request For Comments", True),
    ],
)
def test_an_abbreviation_is_spelled_out_by_its_initials(name: str, text: str, spelled: bool):
    assert spelled_out(name, [text]) is spelled


@pytest.mark.parametrize("name", ["Hadoop", "GPT-3", "418", "DEEPSEEKR", "a"])
def test_words_numbers_and_long_names_are_not_abbreviations(name: str):
    assert long_forms(name) is None
