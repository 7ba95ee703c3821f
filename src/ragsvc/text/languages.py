"""The languages BM25 knows: a Snowball stemmer and a stop-word list each, and a document's
language told from its stop words (the words every text of a language is full of)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import Stemmer
from bm25s import stopwords as lists

DEFAULT = "en"
# ISO 639-1 code -> (PyStemmer's algorithm, bm25s's stop words)
LANGUAGES: dict[str, tuple[str, list[str]]] = {
    "en": ("english", list(lists.STOPWORDS_EN)),
    "de": ("german", list(lists.STOPWORDS_GERMAN)),
    "fr": ("french", list(lists.STOPWORDS_FRENCH)),
    "es": ("spanish", list(lists.STOPWORDS_SPANISH)),
    "it": ("italian", list(lists.STOPWORDS_ITALIAN)),
    "pt": ("portuguese", list(lists.STOPWORDS_PORTUGUESE)),
    "nl": ("dutch", list(lists.STOPWORDS_DUTCH)),
    "sv": ("swedish", list(lists.STOPWORDS_SWEDISH)),
    "da": ("danish", list(lists.STOPWORDS_DANISH)),
    "no": ("norwegian", list(lists.STOPWORDS_NORWEGIAN)),
    "ru": ("russian", list(lists.STOPWORDS_RUSSIAN)),
    "tr": ("turkish", list(lists.STOPWORDS_TURKISH)),
}
# The words a question is asked with rather than about ("how many", "what do I", "combien"):
# BM25's English list is Lucene's 33 words, so a question's "how" and "many" would otherwise
# count as words a sentence should share with it. NLTK's longer list (as bm25s ships it) and
# the interrogatives French lacks; both apply whatever the document's language, since a
# question may be asked in English of a French document.
QUESTION_FORM = frozenset(lists.STOPWORDS_EN_PLUS) | {
    *("many", "much"),
    *("quel", "quelle", "quels", "quelles", "combien", "comment", "pourquoi", "quoi", "où"),
}
SAMPLE_CHARS = 20_000  # enough text to tell a language; a paper's first pages
_WORD = re.compile(r"[^\W\d_]+")
_MIN_WORDS = 20  # fewer: too little to tell, the default is kept


@dataclass(frozen=True)
class Analyzer:
    """A language's stop words and its stemmer (one per thread: PyStemmer's are not
    thread-safe)."""

    language: str
    stop_words: frozenset[str]
    algorithm: str
    _local: threading.local

    def stem(self, words: list[str]) -> list[str]:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = Stemmer.Stemmer(self.algorithm)
        return list(stemmer.stemWords(words))


_ANALYZERS = {
    code: Analyzer(code, frozenset(words), algorithm, threading.local())
    for code, (algorithm, words) in LANGUAGES.items()
}


def analyzer(language: str) -> Analyzer:
    """The language's analyzer; English for one BM25 does not know."""
    return _ANALYZERS.get(language, _ANALYZERS[DEFAULT])


def detect_language(texts: Iterable[str]) -> str:
    """The language whose stop words make up the largest share of the text's first
    SAMPLE_CHARS characters; the default when there are too few words to tell."""
    sample, size = [], 0
    for text in texts:
        sample.append(text)
        size += len(text)
        if size >= SAMPLE_CHARS:
            break
    words = _WORD.findall(" ".join(sample)[:SAMPLE_CHARS].lower())
    if len(words) < _MIN_WORDS:
        return DEFAULT
    counts = Counter(words)  # each stop word looked up once, not each word 12 times
    shares = {
        code: sum(counts[w] for w in a.stop_words if w in counts) for code, a in _ANALYZERS.items()
    }
    return max(shares, key=lambda code: (shares[code], code == DEFAULT))
