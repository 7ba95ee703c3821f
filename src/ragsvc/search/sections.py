"""A section's passages, for a question that names one ("summarise section 3", "summarize the
training section"): by number, or by a name some numbered section's title holds, with its
subsections, in document order. A name is looked up in each document on its own: "the
case study" is section 5 of one paper and no section at all of another."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from ragsvc.core.schemas import SECTION_SEPARATOR, Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Retrieved

_SECTION_ID = re.compile(r"\d+(\.\d+)*|[A-Z]")  # "3", "3.2.1", or an appendix letter


def section_hits(
    index: SessionIndex, section: str, top_k: int, document_ids: frozenset[str] | None
) -> list[Retrieved]:
    """Passages of the requested section (and its subsections) in document order: first
    one from each subsection, for coverage, then the rest; empty if none matches."""
    by_document: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in index.chunks.values():
        if chunk.kind == "text" and (document_ids is None or chunk.document_id in document_ids):
            by_document[chunk.document_id].append(chunk)
    chunks: list[Chunk] = []
    for document_id in sorted(by_document):
        matches = _section_matcher(by_document[document_id], section)
        chunks += [c for c in by_document[document_id] if any(map(matches, _titles(c)))]
    chunks.sort(key=lambda c: (c.document_id, c.page, c.id))
    openers = {c.section: c for c in reversed(chunks)}  # the first chunk of each section
    first = [c for c in chunks if openers.get(c.section) is c]
    rest = [c for c in chunks if openers.get(c.section) is not c]
    return [Retrieved(c, 1.0) for c in (first + rest)[:top_k]]


def _titles(chunk: Chunk) -> list[str]:
    return chunk.section.split(SECTION_SEPARATOR) if chunk.section else []


def _section_matcher(chunks: list[Chunk], section: str) -> Callable[[str], bool]:
    """Whether a section title of one document's `chunks` is the requested section or one
    of its subsections: by number ("3.2" matches "3.2.1 ..."), or by name when no numbered
    section holds it."""
    if not _SECTION_ID.fullmatch(section):
        section = _number_of_named(chunks, section) or section
    if _SECTION_ID.fullmatch(section):
        numbered = re.compile(rf"^{re.escape(section)}(?=[.\s]|$)")
        return lambda title: bool(numbered.match(title))
    named = re.compile(rf"\b{re.escape(section)}\b", re.IGNORECASE)
    return lambda title: bool(named.search(title))


def _number_of_named(chunks: Iterable[Chunk], name: str) -> str | None:
    """The number of the highest-level numbered section whose title holds `name` ("training"
    -> "5" for "5 Training"), so that its subsections come along."""
    named = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    titles = {title for chunk in chunks for title in _titles(chunk)}
    numbers = {
        match.group(1).rstrip(".")
        for title in titles
        if named.search(title) and (match := re.match(r"^(\d+(?:\.\d+)*)\.?\s", title))
    }
    return min(numbers, key=lambda n: (n.count("."), n), default=None)
