"""Where a text spells out an abbreviation: "AGPL" as "Affero General Public License"
(capitalised words whose initials spell it), "MHz" as "Megahertz" (one word holding its
letters in order, from the first). A question's "AGPL" is then something the documents
mention, though no word of theirs is "AGPL"."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LETTERS = re.compile(r"[A-Za-z]{2,6}")
# words between the initials that an expansion may skip: "Bureau of Labor Statistics"
_SKIPPABLE = r"(?:(?:of|and|for|the|de|du|des|la|le|et)[\s-]+)?"


def long_forms(name: str) -> re.Pattern[str] | None:
    """A pattern finding the spelled-out forms of an abbreviation; None when the name does
    not look like one (a word, a number, more than six letters)."""
    if not _LETTERS.fullmatch(name) or sum(c.isupper() for c in name) < 2:
        return None
    if name.isupper():  # initials of capitalised words, in order
        words = rf"[\s-]+{_SKIPPABLE}".join(rf"{c}\w*" for c in name)
        return re.compile(rf"\b{words}\b")
    # mixed case ("MHz", "kWh"): one word that holds the letters in order, from the first
    inside = r"\w*".join(re.escape(c) for c in name.lower()[1:])
    return re.compile(rf"\b{re.escape(name[0])}\w*{inside}\w*", re.IGNORECASE)


def spelled_out(name: str, texts: Iterable[str]) -> bool:
    """Whether some text spells out the abbreviation `name` (texts are read only for a name
    that looks like one)."""
    pattern = long_forms(name)
    return pattern is not None and any(pattern.search(text) for text in texts)
