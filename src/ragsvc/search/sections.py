"""A section's passages, for a question that names one ("summarise section 3", "summarize the
training section"): by number, or by a name some numbered section's title holds, with its
subsections, in document order."""

from __future__ import annotations

import re
from collections.abc import Callable

from ragsvc.core.schemas import SECTION_SEPARATOR, Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.search.retrieval import Retrieved

_SECTION_ID = re.compile(r"\d+(\.\d+)*|[A-Z]")  # "3", "3.2.1", or an appendix letter


def section_hits(
    index: SessionIndex, section: str, top_k: int, document_ids: frozenset[str] | None
) -> list[Retrieved]:
    """Passages of the requested section (and its subsections) in document order: first
    one from each subsection, for coverage, then the rest; empty if none matches."""
    matches = _section_matcher(index, section)

    def wanted(chunk: Chunk) -> bool:
        in_scope = document_ids is None or chunk.document_id in document_ids
        titles = chunk.section.split(SECTION_SEPARATOR) if chunk.section else []
        return in_scope and chunk.kind == "text" and any(map(matches, titles))

    chunks = sorted(
        filter(wanted, index.chunks.values()), key=lambda c: (c.document_id, c.page, c.id)
    )
    openers = {c.section: c for c in reversed(chunks)}  # the first chunk of each section
    first = [c for c in chunks if openers.get(c.section) is c]
    rest = [c for c in chunks if openers.get(c.section) is not c]
    return [Retrieved(c, 1.0) for c in (first + rest)[:top_k]]


def _section_matcher(index: SessionIndex, section: str) -> Callable[[str], bool]:
    """Whether a section title is the requested section or one of its subsections: by
    number ("3.2" matches "3.2.1 ..."), or by name when no numbered section holds it."""
    if not _SECTION_ID.fullmatch(section):
        section = _number_of_named(index, section) or section
    if _SECTION_ID.fullmatch(section):
        numbered = re.compile(rf"^{re.escape(section)}(?=[.\s]|$)")
        return lambda title: bool(numbered.match(title))
    named = re.compile(rf"\b{re.escape(section)}\b", re.IGNORECASE)
    return lambda title: bool(named.search(title))


def _number_of_named(index: SessionIndex, name: str) -> str | None:
    """The number of the highest-level numbered section whose title holds `name` ("training"
    -> "5" for "5 Training"), so that its subsections come along."""
    named = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
    titles = {
        title
        for chunk in index.chunks.values()
        if chunk.section
        for title in chunk.section.split(SECTION_SEPARATOR)
    }
    numbers = {
        match.group(1).rstrip(".")
        for title in titles
        if named.search(title) and (match := re.match(r"^(\d+(?:\.\d+)*)\.?\s", title))
    }
    return min(numbers, key=lambda n: (n.count("."), n), default=None)
