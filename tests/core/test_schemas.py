"""What a chunk is searched by: its section title (a card: its document's names) before its
text, the sentences about the paper's own layout left out (unless they are all it holds)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragsvc.core.schemas import AskRequest, Chunk


def chunk(text: str, section: str | None = None) -> Chunk:
    return Chunk(id=0, document_id="d", page=1, text=text, section=section)


def test_the_section_title_comes_first():
    found = chunk("Gauges sat on the harbour floor.", "2 Method > 2.1 Gauges").search_text
    assert found == "2 Method > 2.1 Gauges. Gauges sat on the harbour floor."
    assert chunk("Gauges sat on the harbour floor.").search_text == (
        "Gauges sat on the harbour floor."
    )


def test_a_card_is_searched_by_its_documents_names_too_but_shows_only_its_text():
    card = Chunk(id=0, document_id="d", page=1, text="Tides.", kind="card", names="tide report")
    assert card.search_text == "tide report. Tides."
    assert card.text == "Tides."


def test_signposts_are_left_out_of_what_is_searched_but_not_out_of_the_text():
    text = "Tides were logged hourly. Section 4 discusses storm surges. Gauges drifted."
    found = chunk(text, "3 Results")
    assert found.search_text == "3 Results. Tides were logged hourly. Gauges drifted."
    assert found.text == text  # what is shown and quoted keeps every sentence


def test_a_chunk_of_signposts_only_is_searched_by_all_of_it():
    text = "The rest of this paper is organised as follows. Section 2 describes the gauges."
    assert chunk(text, "1 Introduction").search_text == f"1 Introduction. {text}"


def test_a_questions_top_k_must_be_a_real_number():
    assert AskRequest(question="Why?", top_k=3).top_k == 3
    for wrong in (True, "3", 0, 51):
        with pytest.raises(ValidationError):
            AskRequest(question="Why?", top_k=wrong)
