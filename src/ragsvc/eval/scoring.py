"""One question's outcome, and what is scored of it.

- rank: the position of the first source on an expected page of the question's document.
- cited places: the document and page of each `[n]` in the answer.
- answer recall: share of the reference answer's content words (lower-cased, stop words
  removed, Snowball-stemmed; numbers kept whole) that the answer also states. It catches
  "the right page, the wrong sentence", which page hits cannot.
- key terms stated: share of the line's key terms found in the answer, as written (case and
  blanks aside): the fact itself, not only its page.
- found: whether the answer gave one, or said the documents do not hold it (`done.found`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ragsvc.eval.qa_sets import QaLine
from ragsvc.text.terms import content_words

Place = tuple[str, int]  # (document, 1-based page)
_BLANKS = re.compile(r"\s+")


def answer_recall(reference: str, answer: str) -> float:
    """Share of the reference's content words that the answer states."""
    wanted = content_words(reference)
    return len(wanted & content_words(answer)) / len(wanted) if wanted else 1.0


def folded(text: str) -> str:
    """Text as key terms are looked for in it: NFKC, case-folded, blanks as one space."""
    return _BLANKS.sub(" ", unicodedata.normalize("NFKC", text)).casefold().strip()


def keys_stated(keys: tuple[str, ...], answer: str) -> float:
    """Share of the key terms the answer states."""
    said = folded(answer)
    return sum(folded(key) in said for key in keys) / len(keys)


@dataclass(frozen=True)
class Outcome:
    """What came back for one line: sources best first, and the answer if there is one (a
    retrieval-only baseline has none)."""

    line: QaLine
    sources: tuple[Place, ...]
    latency_ms: float
    answer: str | None = None
    cited: tuple[Place, ...] = ()
    found: bool = True

    def expected(self, place: Place) -> bool:
        return place[0] == self.line.document and place[1] in self.line.pages

    @property
    def rank(self) -> int | None:
        return next((i for i, p in enumerate(self.sources, 1) if self.expected(p)), None)

    @property
    def right_document_first(self) -> bool:
        return bool(self.sources) and self.sources[0][0] == self.line.document

    @property
    def recall(self) -> float | None:
        return None if self.answer is None else answer_recall(self.line.answer, self.answer)

    @property
    def keys_stated(self) -> float | None:
        if self.answer is None or not self.line.keys:
            return None
        return keys_stated(self.line.keys, self.answer)

    @property
    def refused(self) -> bool:
        """The answer says the documents do not hold it."""
        return self.answer is not None and not self.found
