"""Content words: lower-cased, stop-words left out, Snowball-stemmed, numbers kept whole.
What the citation check and the answer-recall measure compare texts by."""

from __future__ import annotations

import re

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+")
_MARKER = re.compile(r"\[\d+\]")
_STOP = frozenset(STOPWORDS_EN)
_STEM = Stemmer.Stemmer("english")


def content_words(text: str) -> set[str]:
    """The stemmed content words and the numbers of `text` ([n] markers left out)."""
    words = [w for w in _WORD.findall(_MARKER.sub(" ", text).lower()) if w not in _STOP]
    numbers = {w for w in words if w[0].isdigit()}
    return numbers | set(_STEM.stemWords([w for w in words if not w[0].isdigit()]))
