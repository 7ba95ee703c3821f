"""Unicode normalisation: compatibility forms become plain letters and digits, invisible
characters go, and text that needs nothing is left exactly as it was."""

from __future__ import annotations

import pytest

from ragsvc.text.normalise import normalise


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("ﬁne ﬂow ﬀ", "fine flow ff"),  # ligatures
        ("𝑝 = 𝐱 + 𝟐", "p = x + 2"),  # mathematical letters and digits
        ("ＡＢＣ１２３", "ABC123"),  # full-width forms
        ("e\u0301cole", "école"),  # a combining accent composed into one letter
    ],
)
def test_compatibility_forms_become_plain_text(text: str, plain: str):
    assert normalise(text) == plain


def test_invisible_characters_are_removed():
    text = "\ufefftide\u00adtable\u200bof\u200cthe\u200dport\u2060log"
    assert normalise(text) == "tidetableoftheportlog"


def test_text_needing_nothing_is_unchanged():
    assert normalise("plain ASCII, 42 [1].") == "plain ASCII, 42 [1]."
    assert normalise("Größe der Häfen") == "Größe der Häfen"  # ß and umlauts stay
