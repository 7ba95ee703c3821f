"""Whether a sentence states a quantity: a number in digits (not the section number it
opens with) or in words ("fourteen", "two thirds", "trois"). A question asking how many or
how much is answered by such a sentence."""

from __future__ import annotations

import re

_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred hundreds thousand thousands million millions billion billions "
    "half third thirds quarter dozen twice double triple "
    "deux trois quatre cinq sept huit neuf onze douze quinze vingt trente quarante "
    "cinquante soixante cent cents mille moitié tiers quart"
).split()
_QUANTITY = re.compile(r"\d|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
# "4.2 Results", "10.3.5 304 Not Modified": the numbering a heading opens with
_LEADING_NUMBERING = re.compile(r"^\W*\d+(?:\.\d+)*\.?\s+")


def states_quantity(sentence: str) -> bool:
    """Whether the sentence holds a number, in digits or words, past its own numbering."""
    return bool(_QUANTITY.search(_LEADING_NUMBERING.sub("", sentence, count=1)))
