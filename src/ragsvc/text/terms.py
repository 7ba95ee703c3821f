"""Content words: lower-cased, stop-words left out, Snowball-stemmed in the text's language,
numbers kept whole. What the extractive generator, the citation check and the answer-recall
measure compare texts by."""

from __future__ import annotations

import re

from ragsvc.text.citation_markers import CITATION_MARKER
from ragsvc.text.languages import DEFAULT, analyzer

_WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+")


def content_words(text: str, language: str = DEFAULT) -> set[str]:
    """The stemmed content words and the numbers of `text` ([n] markers left out), as BM25
    analyses that language (one stemmer per thread)."""
    words_of = analyzer(language)
    lowered = CITATION_MARKER.sub(" ", text).lower()
    words = [w for w in _WORD.findall(lowered) if w not in words_of.stop_words]
    numbers = {w for w in words if w[0].isdigit()}
    return numbers | set(words_of.stem([w for w in words if not w[0].isdigit()]))
