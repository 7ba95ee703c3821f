"""A sentence states a quantity when it holds a number, in digits or in words, past the
numbering of a heading it opens with."""

from __future__ import annotations

import pytest

from ragsvc.text.quantities import states_quantity


@pytest.mark.parametrize(
    ("sentence", "quantity"),
    [
        ("Fourteen agencies take part.", True),
        ("The harbour keeps 24% of the fees.", True),
        ("Two thirds of the cost goes to testing.", True),
        ("Dans un rayon de deux kilomètres.", True),
        ("10.3.5 Not Modified", False),  # only a heading's numbering
        ("4.2 Results of 12 runs", True),
        ("Agencies take part in the program.", False),
        ("Someone left the harbour.", False),  # "one" inside a word is not a number
    ],
)
def test_a_number_in_digits_or_words_is_a_quantity(sentence: str, quantity: bool):
    assert states_quantity(sentence) is quantity
