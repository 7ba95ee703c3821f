"""Unicode forms that search and quoting should not see: ligatures ("ﬁ"), mathematical
letters ("𝑝"), full-width forms, soft hyphens and zero-width characters."""

from __future__ import annotations

import re
import unicodedata

# Invisible: soft hyphen, zero-width space / joiners, word joiner, byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def normalise(text: str) -> str:
    """NFKC (ligatures and mathematical letters become plain letters), invisibles removed."""
    if text.isascii():
        return text
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
