"""Content words: lower-cased, stop-words left out, Snowball-stemmed, numbers kept whole.
What the citation check and the answer-recall measure compare texts by."""

from __future__ import annotations

import re

from ragsvc.languages import DEFAULT, analyzer

_WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+")
_MARKER = re.compile(r"\[\d+\]")


def content_words(text: str) -> set[str]:
    """The stemmed content words and the numbers of `text` ([n] markers left out), in
    English (the analyzer BM25 uses for it: one stemmer per thread)."""
    english = analyzer(DEFAULT)
    words = [
        w for w in _WORD.findall(_MARKER.sub(" ", text).lower()) if w not in english.stop_words
    ]
    numbers = {w for w in words if w[0].isdigit()}
    return numbers | set(english.stem([w for w in words if not w[0].isdigit()]))
