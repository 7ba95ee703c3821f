"""Text cleanup, chunk packing and document cards (sentence splitting: tests/text/)."""

from __future__ import annotations

import re

import pytest

from ragsvc.core.schemas import Chunk
from ragsvc.ingest.chunking import (
    CARD_CHARS,
    abstract,
    chunk_text,
    clean_page_text,
    document_card,
    file_name_words,
    passages,
    split_sentences,
)
from ragsvc.pdf.parsed import Block


def test_line_end_hyphenation_is_repaired_but_real_hyphens_stay():
    text = "The trans-\nformer uses self-\nattention with GPT-\n4 inputs, as the Berkeley-\nParser."
    assert clean_page_text(text) == (
        "The transformer uses selfattention with GPT-4 inputs, as the Berkeley-Parser."
    )
    assert clean_page_text("a list -\nItem two") == "a list - Item two"  # a dash, not a break


def test_lines_unwrap_and_paragraphs_stay():
    text = "first line\nsecond line\n\n  next paragraph\n"
    assert clean_page_text(text) == "first line second line\n\nnext paragraph"


def test_blanks_and_line_breaks_become_single_spaces_other_characters_stay():
    text = "a \t b\u00a0c  \n  d\te \n\r f\u2009g\n \t\n\nh"
    assert clean_page_text(text) == "a b c d e \r f\u2009g\n\nh"


@pytest.mark.parametrize(
    "text",
    [
        "trans-\nformer GPT-\n4 Berkeley- \n Parser a -\nb -\nc x-\t\ny é-\nü _-\nz",
        "a  b\t\tc \u00a0 d\n\n\ne \n f\u00a0g\th  \t\n-\n\n",
        " \n - \n\u00a0\n\t-x-\n-\nY",
    ],
)
def test_page_text_is_cleaned_as_by_the_plain_patterns(text: str):
    """The patterns written to be searched fast make what the plain ones make."""
    joined = re.sub(r"(?<=\w)-\s*\n\s*(?=[a-z])", "", text)
    joined = re.sub(r"(?<=\w)-[ \t]*\n[ \t]*(?=[A-Z0-9])", "-", joined)
    paragraphs = (re.sub(r"[ \t\u00a0\n]{2,}|[\t\u00a0\n]", " ", p).strip() for p in
                  re.split(r"\n\s*\n", joined))  # fmt: skip
    assert clean_page_text(text) == "\n\n".join(p for p in paragraphs if p)


def test_chunks_respect_size_sentences_and_overlap():
    sentences = [
        f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(80)
    ]
    text = " ".join(sentences)
    chunks = chunk_text(text, size=400, overlap=120)
    assert len(chunks) > 5
    assert all(len(c) <= 400 for c in chunks)
    for chunk in chunks:  # whole sentences only
        assert chunk.startswith("Sentence number") and chunk.endswith(".")
    for before, after in zip(chunks, chunks[1:], strict=False):
        first_of_next = split_sentences(after)[0]
        assert first_of_next in before  # the overlap carries the tail of the previous chunk
    covered = set().union(*(split_sentences(c) for c in chunks))
    assert covered == set(sentences)  # nothing lost


def test_overlong_sentence_is_cut_at_words():
    text = "word " * 500
    chunks = chunk_text(text, size=300, overlap=50)
    assert all(len(c) <= 300 for c in chunks)
    assert sum(c.count("word") for c in chunks) >= 500


def test_overlap_never_pushes_a_chunk_past_its_size():
    text = " ".join(["Short one here."] * 8 + ["X" * 280 + "."] + ["Tail words."] * 3)
    chunks = chunk_text(text, size=300, overlap=120)
    assert all(len(c) <= 300 for c in chunks)
    assert any("X" * 280 in c for c in chunks)


def test_short_text_is_one_chunk():
    assert chunk_text("One short page.", size=1000, overlap=150) == ["One short page."]
    assert chunk_text("", size=1000, overlap=150) == []


def test_card_holds_title_abstract_and_outline():
    first_page = [
        Block("Some Header"),
        Block("Abstract", heading=True),
        Block("We propose X. It is good."),
        Block("1 Introduction", heading=True),
        Block("more"),
    ]
    card = document_card("Paper Title", ["Introduction", "Method"], abstract(first_page))
    assert card.startswith("Paper Title.\n\nWe propose X. It is good.")
    assert card.endswith("Outline: Introduction; Method.")
    assert "Some Header" not in card and "more" not in card
    assert len(document_card(None, [], "x" * 10_000)) <= CARD_CHARS


@pytest.mark.parametrize(
    ("filename", "words"),
    [
        ("irs_form_w9_2018.pdf", "irs form w9 2018"),
        ("Tidy-Data (JSS).PDF", "Tidy Data JSS"),
        ("scan.pdf", "scan"),
        ("___.pdf", ""),
    ],
)
def test_a_file_name_as_words(filename: str, words: str):
    assert file_name_words(filename) == words


def test_a_card_whose_opening_begins_with_the_title_says_it_once():
    card = document_card("Exam Prep.", [], "Exam prep for the Technician licence, by a club.")
    assert card == "Exam prep for the Technician licence, by a club."


def test_inline_abstract_is_found_too():
    page = [Block("Some Header"), Block("Abstract: We propose Y. It works.")]
    assert abstract(page) == "We propose Y. It works."


def test_passages_carry_sections_and_tag_references():
    pages = [
        [Block("1 Introduction", heading=True), Block("Intro text here. More intro.")],
        [
            Block("Model", heading=True),  # a bold table cell: not a section
            Block("Cell values."),
            Block("2 Method Details", heading=True),
            Block("Method text."),
        ],
        [Block("References", heading=True), Block("[1] A. Author. A paper. 2017.")],
    ]
    got = [(p.page, p.section, p.kind, p.text) for p in passages(pages, 1000, 150)]
    assert got == [
        (1, "1 Introduction", "text", "Intro text here. More intro."),
        (2, "1 Introduction", "text", "Model Cell values."),
        (2, "2 Method Details", "text", "Method text."),
        (3, "References", "references", "[1] A. Author. A paper. 2017."),
    ]


def test_fragments_join_a_neighbour_of_their_page_and_section():
    long = "The gauges were read " + "every minute of the year and " * 5 + "by hand at midnight."
    assert 183 < len(long) <= 200  # a passage of its own, with no room for another line
    pages = [
        [
            Block("1 Method", heading=True),
            Block("Figure 2: gauges."),  # a caption: joins the passage after it
            Block(long),
            Block("2 Results", heading=True),
            Block(long),
            Block("Table 1: errors."),  # the section's last piece: joins the one before
            Block("3 Notes", heading=True),
            Block("Short."),  # alone in its section: stays, a section of its own
        ],
        [Block("More of the notes on the next page.")],  # another page: not joined
    ]
    found = [(p.page, p.section, p.text) for p in passages(pages, 200, 0)]  # 2 do not fit
    assert found == [
        (1, "1 Method", f"Figure 2: gauges.\n\n{long}"),
        (1, "2 Results", f"{long}\n\nTable 1: errors."),
        (1, "3 Notes", "Short."),
        (2, "3 Notes", "More of the notes on the next page."),
    ]


def test_sentences_about_the_papers_layout_are_not_searched():
    text = (
        "Section 5 has performance measurements for a variety of tasks. "
        "The rest of this paper is organised as follows. "
        "Workers read their input split from the local disk."
    )
    chunk = Chunk(id=1, document_id="d", page=1, text=text, section="1 Introduction")
    assert chunk.search_text == (
        "1 Introduction. Workers read their input split from the local disk."
    )
    alone = Chunk(id=2, document_id="d", page=1, text="Section 2 describes the model.")
    assert alone.search_text == "Section 2 describes the model."  # nothing else to search
