"""Citations you can verify: for every [n] of an answer, the passage of source n it rests on,
verbatim, with its offsets in the source's text, and whether it really supports the claim.

The claim of a marker is the answer's text since the previous marker (adjacent markers, as
in "[1][2]", share one). Each of its sentences is matched to the source sentence holding
most of its content words; the quote runs from the first matched sentence to the last. It
is `verified` when every claim sentence found a source sentence holding at least
SUPPORTED of its content words. The extractive generator quotes its sources, so its claims
are always verified; an LLM's paraphrase usually is, an invented sentence is not.

A claim found verbatim in its source needs no matching: `verbatim_quotes` quotes it where it
stands, cheaply enough to run on the event loop (the extractive generator's answers, whose
sentences are its sources' own, are quoted so without a thread hop or any stemming).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from ragsvc.core.schemas import Quote, Source
from ragsvc.text.citation_markers import CITATION_MARKER
from ragsvc.text.sentences import split_sentences
from ragsvc.text.terms import content_words

SUPPORTED = 0.5  # share of a claim sentence's content words a quote must hold
MEMO_SOURCES = 4096  # passages whose sentences are remembered (a few KB each)
MIN_VERBATIM_WORDS = 3  # a shorter claim is matched, even where it is verbatim
_SENTENCE_ENDS = (".", "!", "?", ":", ";")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    words: frozenset[str]


def supporting_quotes(answer: str, sources: list[Source]) -> list[Quote]:
    """One Quote per [n] marker of `answer` naming one of `sources`, in the answer's order."""
    by_n = {source.n: source for source in sources}
    spans: dict[int, tuple[_Span, ...]] = {}
    quotes = []
    for n, claim in _claims(answer):
        source = by_n.get(n)
        if source is None:
            continue
        if n not in spans:
            spans[n] = _spans_of(source.text, source.language)
        quotes.append(_quote(claim, source, spans[n]))
    return quotes


def verbatim_quotes(answer: str, sources: list[Source]) -> list[Quote] | None:
    """`supporting_quotes` for an answer whose every claim is its source's text verbatim (a
    substring search each); None when one is not, for `supporting_quotes` to match them."""
    by_n = {source.n: source for source in sources}
    quotes = []
    for n, claim in _claims(answer):
        source = by_n.get(n)
        if source is None:
            continue
        start = source.text.find(claim) if _sentence_like(claim) else -1
        end = start + len(claim)
        if start < 0 or not _bounded(source.text, start, end):
            return None
        quotes.append(
            Quote(
                n=n, claim=claim, text=claim, start=start, end=end, page=source.page, verified=True
            )
        )
    return quotes


def _sentence_like(claim: str) -> bool:
    """A claim of a few words ending a sentence: not a fragment ("Yes", "owls") that a
    source holds inside other words or sentences, which only matching can judge."""
    return claim.endswith(_SENTENCE_ENDS) and len(claim.split()) >= MIN_VERBATIM_WORDS


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is whole sentences of `text`: it opens the text or follows a
    sentence's end, and the text ends or a blank follows it."""
    before = text[:start].rstrip()
    opens = start == 0 or (text[start - 1].isspace() and before.endswith(_SENTENCE_ENDS))
    return opens and (end == len(text) or text[end].isspace())


def _claims(answer: str) -> Iterator[tuple[int, str]]:
    """(n, the text it closes) for every marker; adjacent markers share the last claim."""
    last, claim = 0, ""
    for match in CITATION_MARKER.finditer(answer):
        text = answer[last : match.start()].lstrip(" \n.,;:!?").strip()  # "X [1]. Y [2]"
        claim = text or claim
        last = match.end()
        yield int(match.group(1)), claim


@lru_cache(maxsize=MEMO_SOURCES)
def _spans_of(text: str, language: str) -> tuple[_Span, ...]:
    """Remembered: a session's answers keep citing the same passages."""
    return tuple(_sentence_spans(text, language))


def _sentence_spans(text: str, language: str) -> Iterator[_Span]:
    """The sentences of a source's text with their offsets in it."""
    position = 0
    for sentence in split_sentences(text):
        start = text.find(sentence, position)
        end = start + len(sentence)
        if start < 0:  # rejoined at an abbreviation with one space: find it whatever the blanks
            pattern = r"\s+".join(map(re.escape, sentence.split()))
            found = re.search(pattern, text[position:])
            if found is None:  # pragma: no cover - every sentence comes from this text
                continue
            start, end = position + found.start(), position + found.end()
        position = end
        yield _Span(start, end, frozenset(content_words(sentence, language)))


def _quote(claim: str, source: Source, spans: tuple[_Span, ...]) -> Quote:
    claimed = [s for s in split_sentences(claim) if content_words(s, source.language)]
    matched = [_best(content_words(sentence, source.language), spans) for sentence in claimed]
    found = [(span, share) for span, share in matched if span is not None]
    start = min((span.start for span, _ in found), default=0)
    end = max((span.end for span, _ in found), default=0)
    verified = bool(found) and len(found) == len(matched)
    verified = verified and all(share >= SUPPORTED for _, share in found)
    text, page = source.text[start:end], source.page
    return Quote(
        n=source.n, claim=claim, text=text, start=start, end=end, page=page, verified=verified
    )


def _best(words: set[str], spans: tuple[_Span, ...]) -> tuple[_Span | None, float]:
    """The source sentence holding the largest share of a claim sentence's content `words`
    (the shorter one on a tie), and that share; None if it shares none."""
    if not words or not spans:
        return None, 0.0
    span = max(spans, key=lambda s: (len(words & s.words), -(s.end - s.start)))
    share = len(words & span.words) / len(words)
    return (span, share) if share > 0 else (None, 0.0)
