"""What a question's wording tells: whether it compares two things, and the names it
mentions. The extractive generator shapes its answer by them."""

from __future__ import annotations

import re

_COMPARE = re.compile(
    r"\b(?:differ(?:s|ent|ently|ence|ences)?|compar(?:e|ed|es|ing|ison)|versus|vs\.?"
    r"|contrast|distinguish(?:es)?\s+between|better than|worse than|same as)\b",
    re.IGNORECASE,
)
# A name: a capitalised word that does not open the question ("Hadoop"), an acronym or a
# word with a digit ("GPT-3", "IBM"); quoted terms count too.
_NAME = re.compile(r"(?<![\w'’])(?:[A-Z][\w]*[A-Z0-9][\w]*|[A-Z][a-z]+)(?:-[\w]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s*)[\"“‘'(]?\s*$")
_QUOTED = re.compile(r"(?<!\w)[\"“‘']([^\"”’']{2,40})[\"”’'](?!\w)")


def is_comparison(question: str) -> bool:
    """Whether the question asks how two things differ or compare: both sides answer it."""
    return bool(_COMPARE.search(question))


def names_in(question: str) -> list[str]:
    """The proper names and quoted terms of a question; a word capitalised because it
    opens a sentence is not one, nor is "I"."""
    found = [
        m.group()
        for m in _NAME.finditer(question)
        if not _SENTENCE_START.search(question[: m.start()]) and m.group() != "I"
    ]
    found += [m.group(1) for m in _QUOTED.finditer(question)]
    return list(dict.fromkeys(found))
