"""A section's passages, for "summarise section 2" or "the method section": by number or by
name, with its subsections, in document order with the first passage of each subsection
first; nothing when no title matches; only the documents asked about; a name looked up in
each document on its own."""

from __future__ import annotations

import numpy as np

from ragsvc.core.schemas import Chunk
from ragsvc.search.index import SessionIndex
from ragsvc.search.sections import section_hits

# (document, page, section, kind): chunk ids follow this order
PASSAGES = [
    ("d", 1, None, "card"),
    ("d", 1, "1 Introduction", "text"),
    ("d", 2, "2 Method", "text"),
    ("d", 2, "2 Method > 2.1 Gauges", "text"),
    ("d", 2, "2 Method > 2.1 Gauges", "text"),
    ("d", 3, "2 Method > 2.2 Corrections", "text"),
    ("d", 3, "3 Results", "text"),
    ("d", 4, "20 Further Work", "text"),  # "2" is not "20"
    ("d", 4, "Acknowledgements", "text"),
    ("d", 5, "References", "references"),
    ("e", 1, "2 Method", "text"),  # another document
    ("e", 2, "3 Case Study", "text"),  # "d"'s section 3 is no case study
]


def build() -> SessionIndex:
    chunks = [
        Chunk(id=i, document_id=doc, page=page, text=f"Passage {i}.", section=section, kind=kind)
        for i, (doc, page, section, kind) in enumerate(PASSAGES)
    ]
    index = SessionIndex("test", 4)
    index.reserve_ids(len(chunks))
    index.add(chunks, np.ones((len(chunks), 4), dtype=np.float32))
    return index


def ids(index: SessionIndex, section: str, top_k: int = 20, only: set[str] | None = None):
    found = section_hits(index, section, top_k, frozenset(only) if only else None)
    assert all(hit.score == 1.0 for hit in found)
    return [hit.chunk.id for hit in found]


def test_a_section_by_number_comes_with_its_subsections_first_passage_of_each_first():
    index = build()
    assert ids(index, "2", only={"d"}) == [2, 3, 5, 4]
    assert ids(index, "2", top_k=3, only={"d"}) == [2, 3, 5]  # every subsection covered
    assert ids(index, "2.1") == [3, 4]


def test_a_section_by_name_is_found_through_its_numbered_title():
    index = build()
    assert ids(index, "method", only={"d"}) == ids(index, "2", only={"d"})
    assert ids(index, "gauges") == [3, 4]
    assert ids(index, "acknowledgements") == [8]  # an unnumbered title, by name alone


def test_nothing_is_found_when_no_title_matches():
    index = build()
    assert ids(index, "7") == []
    assert ids(index, "weather") == []
    assert ids(index, "references") == []  # bibliography entries are no section's content


def test_only_the_documents_asked_about_are_searched():
    index = build()
    assert ids(index, "2", only={"e"}) == [10]
    assert sorted(ids(index, "2")) == [2, 3, 4, 5, 10]  # none named: every document


def test_a_name_is_numbered_in_the_document_that_holds_it_not_in_the_others():
    index = build()
    assert ids(index, "case study") == [11]  # not "d"'s "3 Results"
    assert ids(index, "results") == [6]
