"""Content words: lower-cased, stop-words left out, Snowball-stemmed in the text's language,
numbers kept whole. What the extractive generator, the citation check and the answer-recall
measure compare texts by."""

from __future__ import annotations

import re

from ragsvc.text.citation_markers import CITATION_MARKER
from ragsvc.text.languages import DEFAULT, QUESTION_FORM, analyzer

_WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+")


def content_words(text: str, language: str = DEFAULT) -> set[str]:
    """The stemmed content words and the numbers of `text` ([n] markers left out), as BM25
    analyses that language (one stemmer per thread)."""
    words_of = analyzer(language)
    lowered = CITATION_MARKER.sub(" ", text).lower()
    words = [w for w in _WORD.findall(lowered) if w not in words_of.stop_words]
    numbers = {w for w in words if w[0].isdigit()}
    return numbers | set(words_of.stem([w for w in words if not w[0].isdigit()]))


# A word of the question's form, standing alone: not a letter inside "p{q}r" or "t-test"
_FORM_WORD = re.compile(
    r"(?<![\w@+/.{}&-])(?:"
    + "|".join(sorted(map(re.escape, QUESTION_FORM), key=len, reverse=True))
    + r")(?![\w@+/{}&-])",
    re.IGNORECASE,
)


def without_question_form(question: str) -> str:
    """The question without the words it is asked with ("how many", "what do I"); all of it
    when it holds no other word ("what does it do?")."""
    asked_about = _FORM_WORD.sub(" ", question)
    return asked_about if _WORD.search(asked_about) else question


def question_terms(question: str, language: str = DEFAULT) -> set[str]:
    """The question's content words without the words it is asked with."""
    return content_words(without_question_form(question), language)
