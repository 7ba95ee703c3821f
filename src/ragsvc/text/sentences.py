"""How a passage reads as sentences: split on sentence ends (not after "et al." or "Fig."),
and which sentences only point at the paper's own layout ("Section 5 has ..."). Chunking
packs these sentences; the extractive generator quotes them; the citation check matches
them; what is embedded and BM25-indexed leaves the signposts out."""

from __future__ import annotations

import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = (
    "e.g.", "i.e.", "al.", "etc.", "fig.", "figs.", "eq.", "eqs.", "sec.", "vs.", "cf.",
    "no.", "dr.", "mr.", "ms.", "prof.", "approx.", "tab.", "ref.", "refs.", "resp.",
    "rev.", "inc.", "corp.", "ltd.", "dept.", "vol.", "pp.", "jr.", "sr.", "st.", "art.",
    "u.s.",
)  # fmt: skip
# the abbreviation is a whole word: "first." ends a sentence, "St." does not
_ABBREVIATION_TAIL = 1 + max(map(len, _ABBREVIATIONS))  # a word this long is none of them
_LAST_WORD = re.compile(r"[\s(\[\"']")
# A sentence about the paper's own layout ("Section 5 has the measurements", "The rest of
# this paper is organised as follows") points at an answer; it never is one.
_SIGNPOST = re.compile(
    r"^\W*(?:(?:in|then|next|finally|and)\W+)?(?:sections?|chapters?)\s+\d"
    r"|\b(?:rest|remainder) of (?:this|the) (?:paper|article|report)\b"
    r"|\b(?:paper|article|report) is (?:organi[sz]ed|structured) as follows\b",
    re.IGNORECASE,
)
# A word each signpost holds, sought in the whole text first: most texts hold none, and
# then no sentence of theirs can be a signpost (sentences keep the text's words). Sought in
# the text lower-cased, 10x faster than by an IGNORECASE pattern; which matches the same
# but for four letters it takes for ASCII ones ("ſ" for "s"): a text with any of those is
# split as before.
_SIGNPOST_WORDS = "section chapter rest remainder organised organized structured".split()
_FOLDED_TO_ASCII = "\u0130\u0131\u017f\u212a"


def split_sentences(text: str) -> list[str]:
    """Split on sentence ends, not after common abbreviations ("et al.", "Fig.")."""
    sentences: list[str] = []
    for paragraph in text.split("\n\n"):
        pending = ""
        for piece in _SENTENCE_END.split(paragraph):
            pending = f"{pending} {piece}".strip() if pending else piece.strip()
            # every abbreviation ends with "." (most sentences do not need the split)
            if not pending.endswith(".") or _last_word(pending) not in _ABBREVIATIONS:
                sentences.append(pending)
                pending = ""
        if pending:
            sentences.append(pending)
    return [s for s in sentences if s]


def _last_word(text: str) -> str:
    """The text's last word if it may be an abbreviation: split from its last few
    characters, as a longer word cannot be one."""
    return _LAST_WORD.split(text[-_ABBREVIATION_TAIL:])[-1].lower()


# A table of contents' dot leader: "1.4 Overall Operation ........ 12"
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}")
CONTENTS_SHARE = 0.15  # of a passage's characters in dot leaders: a table of contents
# Passages searches keep ranking are judged once (their texts are the index's own strings)
MEMO_PASSAGES = 4_096


def is_contents(sentence: str) -> bool:
    """Whether a sentence lists sections (a contents line, a card's outline): never an
    answer."""
    return sentence.startswith("Outline: ") or bool(_DOT_LEADER.search(sentence))


# Where any dot leader starts: two dots, at most one blank between them. Found by a scan for
# a dot, where the leader pattern is tried at every character: 20x faster on a passage.
_TWO_DOTS = re.compile(r"\.\s?\.")


@lru_cache(maxsize=MEMO_PASSAGES)
def is_table_of_contents(text: str) -> bool:
    """Whether a passage is a table of contents: a sixth or so of it in dot leaders."""
    if not _TWO_DOTS.search(text):  # no leader at all (prose, numbers such as "0.5 0.3")
        return False
    leaders = sum(len(m.group()) for m in _DOT_LEADER.finditer(text))
    return leaders >= CONTENTS_SHARE * len(text)


def is_signpost(sentence: str) -> bool:
    """Whether a sentence is about the paper's own layout ("Section 5 has ...")."""
    return bool(_SIGNPOST.search(sentence))


def _may_hold_signposts(text: str) -> bool:
    if any(letter in text for letter in _FOLDED_TO_ASCII):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _SIGNPOST_WORDS)


def without_signposts(text: str) -> str:
    """The text without its signpost sentences (all of it if that is all it holds): they
    hold the words of every section they announce, so they would match questions about
    those sections."""
    if not _may_hold_signposts(text):
        return text
    sentences = split_sentences(text)
    kept = [s for s in sentences if not is_signpost(s)]
    return " ".join(kept) if kept and len(kept) < len(sentences) else text
