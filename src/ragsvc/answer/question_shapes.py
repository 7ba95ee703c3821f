"""What a question's wording tells: whether it asks about a whole document or about one
section, whether it compares two things, and the names it mentions. Answering finds its
passages by the first two; the extractive generator shapes its answer by the others."""

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
# A number precise enough to name something: "status 418", "WCAG 2.2", "RFC 2616" (one or
# two digits, "5 amps", are as often the question's own example as the documents' words)
_NUMBER_NAME = re.compile(r"(?<![\w.,])(?:\d+(?:\.\d+)+|\d{3,})(?![\w,]|\.\d)")
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s*)[\"“‘'(]?\s*$")
_QUOTED = re.compile(r"(?<!\w)[\"“‘']([^\"”’']{2,40})[\"”’'](?!\w)")
# "section 3.2", "summarise the related work section", "what does the method section say"
_SECTION_NUMBER = re.compile(r"\bsection\s+(\d+(?:\.\d+)*|[A-Z])\b", re.IGNORECASE)
_SECTION_NAME = re.compile(
    r"\b(?:summar(?:y of|i[sz]e)|overview of|what does|walk(?: me)? through|go through)\s+"
    r"(?:the\s+)?(?:section\s+(?:on|about)\s+(?:the\s+)?)?"
    r"([a-z][\w -]{2,40}?)(?:\s+section)?(?:\s+say)?\s*[?.!]*$",
    re.IGNORECASE,
)
# A question about a whole document: "what is this paper about?", "what is this form for?",
# "the main contributions", "c'est quoi ce document ?"
_GLOBAL = re.compile(
    r"what(?:'s| is| are)\s+(?:this|the|these|that)\s+(?:\w+\s+)?about"
    r"|^\s*what(?:'s|’s|\s+is|\s+are|\s+was)\s.{0,80}\babout\s*[?.!]*\s*$"
    r"|^\s*what(?:'s|’s|\s+is|\s+are)\s+(?:this|these)\s+\w+(?:\s+for)?\s*[?.!]*\s*$"
    r"|^\s*c['’]est quoi ce(?:tte|s)?\s+\w+\s*[?.!]*\s*$|\bde quoi (?:parle|traite)"
    r"|^\s*qu['’]est[- ]ce que (?:c['’]est que )?ce(?:tte|s)?\s+\w+\s*[?.!]*\s*$"
    r"|\bsummar(?:y|ise|ize|ising|izing)\b|\boverview\b|\btl;?dr\b|\bgist\b"
    r"|\bmain\s+(?:idea|contribution|point|finding|topic|goal|result)s?\b"
    r"|\bkey\s+(?:idea|contribution|point|finding|takeaway)s?\b",
    re.IGNORECASE,
)


def is_global_question(question: str) -> bool:
    """Whether the question asks about a document as a whole (answered from its card)."""
    return bool(_GLOBAL.search(question))


def requested_section(question: str) -> str | None:
    """The section a question asks about: "section 3.2" gives "3.2"; "summarise the
    related work" gives "related work" (used only if some section title contains it)."""
    if match := _SECTION_NUMBER.search(question):
        return match.group(1)
    if match := _SECTION_NAME.search(question.strip()):
        return match.group(1).strip()
    return None


# "how many heads?", "what % is withheld?", "max number of connections", "combien de temps"
_QUANTITY = re.compile(
    r"\bhow\s+(?:many|much|long|far|big|large|old|often|fast|high|wide|tall|heavy)\b"
    r"|\bwhat\s+(?:percent(?:age)?|proportion|share|number|amount|size|rate)\b|%"
    r"|\b(?:max(?:imum)?|min(?:imum)?|total)\s+(?:number|amount|size)\b"
    r"|\bcombien\b|\bquel(?:le)?s?\s+(?:pourcentage|nombre|montant|taux|dur[ée]e|distance)\b",
    re.IGNORECASE,
)


# "what does P{Q}R mean?", "Installation Information - what is that", "what is a combiner?"
_DEFINITION = re.compile(
    r"\bwhat\s+(?:does|do|is|are)\b.*\b(?:mean|stand for)\b"
    r"|\bwhat(?:'s|’s| is) (?:that|it)\s*\??\s*$"
    r"|^\s*what(?:'s|’s|\s+is|\s+are)\s+(?:an?\s+)?[\w'\"“”{}-]+(?:\s+[\w'\"“”{}-]+){0,2}\s*\?*\s*$"
    r"|\bdefin(?:e|ition of)\b|\bmeaning of\b"
    r"|\bqu['’]est[- ]ce qu(?:e|['’])|\bque (?:veut dire|signifie)\b",
    re.IGNORECASE,
)


def asks_for_definition(question: str) -> bool:
    """Whether the question asks what something is or means: its defining sentence answers."""
    return bool(_DEFINITION.search(question))


def asks_for_quantity(question: str) -> bool:
    """Whether the question asks how many, how much or what value: a number answers it."""
    return bool(_QUANTITY.search(question))


def is_comparison(question: str) -> bool:
    """Whether the question asks how two things differ or compare: both sides answer it."""
    return bool(_COMPARE.search(question))


def names_in(question: str) -> list[str]:
    """The proper names, quoted terms and precise numbers ("418", "2.2") of a question; a
    word capitalised because it opens a sentence is not one, nor is "I"."""
    found = [
        m.group()
        for m in _NAME.finditer(question)
        if not _SENTENCE_START.search(question[: m.start()]) and m.group() != "I"
    ]
    found += [m.group(1) for m in _QUOTED.finditer(question)]
    found += _NUMBER_NAME.findall(question)
    return list(dict.fromkeys(found))


# A question that leans on the one before: "and how does it compare?", "what about the
# second?", "et pour le critère 1.1 ?"; or one too short to stand alone.
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|also|so|then|et|mais|und|aber|y|e)\b|^\s*(?:what|how) about\b"
    r"|\b(?:the same|that one|this one|the other one|the former|the latter)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def is_follow_up(question: str) -> bool:
    """Whether a question builds on the conversation: opened by "and", "what about" (or the
    like), naming "the same" or "the other one", or of three words or fewer."""
    return bool(_FOLLOW_UP.search(question)) or len(_WORD.findall(question)) <= 3
