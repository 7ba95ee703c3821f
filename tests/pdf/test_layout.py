"""Layout-aware extraction on a generated paper: bold numbered headings become sections,
running headers and page numbers disappear, section summaries follow the section. The layout
rules on their own too (`lay_out`, `title_of` on hand-made lines)."""

from __future__ import annotations

import pymupdf
import pytest

from ragsvc.pdf.layout import lay_out, title_of
from ragsvc.pdf.parsed import Block, Line
from ragsvc.pdf.read import parse_pdf
from tests.support.pdfs import LIMITS, make_paper

pytestmark = pytest.mark.anyio
A4 = 842.0  # the page height of the hand-made pages: margins are its top and bottom 7 %


def test_headings_become_blocks_and_furniture_goes():
    parsed = parse_pdf(make_paper(), "harbour.pdf", LIMITS)
    headings = [b.text for page in parsed.pages for b in page if b.heading]
    assert headings == ["1 Introduction", "2 Method", "2.1 Gauges", "2.2 Corrections", "3 Results"]
    text = " ".join(b.text for page in parsed.pages for b in page)
    assert "Journal of Harbour Studies" not in text
    assert not any(b.text.strip().isdigit() for page in parsed.pages for b in page)


async def test_sources_carry_sections_and_a_section_is_summarised(client, session):
    files = {"files": ("harbour.pdf", make_paper(), "application/pdf")}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    json_headers = {**session, "Accept": "application/json"}
    reply = await client.post(
        "/ask", json={"question": "How were the gauges calibrated?"}, headers=json_headers
    )
    top = reply.json()["sources"][0]
    assert top["section"] == "2 Method > 2.1 Gauges" and top["page"] == 2  # the whole path
    summary = await client.post(
        "/ask", json={"question": "Summarise section 2"}, headers=json_headers
    )
    body = summary.json()
    assert [s["section"] for s in body["sources"]] == [
        "2 Method",
        "2 Method > 2.1 Gauges",
        "2 Method > 2.2 Corrections",
    ]
    assert [s["page"] for s in body["sources"]] == [2, 2, 3]
    for opening in ("We measured tides", "Pressure gauges sat", "Air pressure changes"):
        assert opening in body["answer"]
    assert body["citations"] == [1, 2, 3] and "Storm surges" not in body["answer"]
    named = await client.post(
        "/ask", json={"question": "Summarize the method section"}, headers=json_headers
    )
    assert [s["section"] for s in named.json()["sources"]][0] == "2 Method"


def test_pymupdf_add_ons_stay_unloaded():
    """The server and each page worker skip PyMuPDF's layout/OCR add-ons (0.25 s, 55 MB)."""
    import subprocess
    import sys

    code = (
        "import sys, ragsvc.pdf.read; "
        "print(sorted({'onnxruntime', 'pymupdf4llm'} & {m for m in sys.modules if sys.modules[m]}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def make_tricky_page() -> bytes:
    """Bold 12 pt lines of which only some are headings, between 10 pt paragraphs."""
    bold = [
        "1 Results",
        "continued from the previous column",  # a sentence's continuation
        "In this paper an attempt is made to explore the founda-",  # a broken line
        "If P{Q}R and R then P{Q}S",  # an equation
        "Data at https://example.org/tides",  # a reference's link in a larger font
        "Gauge Failure",  # a run-in subheading of 1 Results
        "References",  # back at the top level
    ]
    doc = pymupdf.open()
    page = doc.new_page()
    y = 60.0
    for line in bold:
        page.insert_text((72, y), line, fontsize=12, fontname="hebo")
        body = "Gauges drift in storms. " * 6
        page.insert_textbox(pymupdf.Rect(72, y + 8, 520, y + 60), body, fontsize=10)
        y += 90
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def test_headings_are_told_from_sentences_equations_and_links():
    from ragsvc.ingest.chunking import passages

    parsed = parse_pdf(make_tricky_page(), "tricky.pdf", LIMITS)
    headings = [b.text for b in parsed.pages[0] if b.heading]
    assert headings == ["1 Results", "Gauge Failure", "References"]
    found = passages(parsed.pages, 1000, 0)
    sections = list(dict.fromkeys((p.section, p.kind) for p in found))
    assert sections == [
        ("1 Results", "text"),
        ("1 Results > Gauge Failure", "text"),
        ("References", "references"),
    ]
    assert "https://example.org/tides" in " ".join(p.text for p in found)  # kept as text


def test_ligatures_and_mathematical_letters_become_plain_text():
    from ragsvc.text.normalise import normalise

    assert (
        normalise("Cluster Conﬁguration of 𝑝 and 𝐱, ﬂow")
        == "Cluster Configuration of p and x, flow"
    )
    assert normalise("tide\u00adtable\u200b") == "tidetable"
    assert normalise("plain ASCII") == "plain ASCII"


def test_author_mail_lines_and_plot_markers_are_not_text():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "Tides of the North Sea", fontsize=16, fontname="hebo")
    page.insert_text((72, 110), "ann@harbour.example, bo@harbour.example Harbour Lab", fontsize=10)
    page.insert_textbox(pymupdf.Rect(72, 130, 520, 200), "Tides rise twice a day. " * 5)
    page.insert_text((72, 230), "G G G G G G G G G G", fontsize=6)  # a scatter plot's markers
    page.insert_text((72, 250), "0 5 10 15 20 25 30", fontsize=6)  # its axis: numbers stay
    parsed = parse_pdf(doc.tobytes(), "tides.pdf", LIMITS)
    doc.close()
    text = "\n".join(b.text for b in parsed.pages[0])
    assert "Tides rise twice a day." in text and "0 5 10 15 20 25 30" in text
    assert "@" not in text and "G G G" not in text


def body(text: str, block: int, top: float) -> Line:
    return Line(text, 10.0, False, block, top, top + 12)


def test_a_bold_numbered_short_line_is_a_heading_and_the_same_line_plain_is_text():
    paragraph = [
        body("We measured tides for a year.", 1, 120),
        body("Gauges logged every minute.", 1, 133),
    ]
    bold = Line("2 Method", 10.0, True, 0, 100, 112)
    assert lay_out([[bold, *paragraph]], [A4]) == [
        [
            Block("2 Method", heading=True),
            Block("We measured tides for a year.\nGauges logged every minute."),
        ]
    ]
    plain = bold._replace(bold=False)
    assert [b.heading for b in lay_out([[plain, *paragraph]], [A4])[0]] == [False, False]
    larger = plain._replace(text="Results", size=14.0)  # larger than the body: a heading too
    assert lay_out([[larger, *paragraph]], [A4])[0][0] == Block("Results", heading=True)


def page_with_furniture(number: int) -> list[Line]:
    return [
        Line("Journal of Harbour Studies, vol. 7", 8.0, False, 0, 25, 33),  # top margin
        body(f"Day {number}: the tide rose at dawn.", 1, 100),
        body("Gulls followed the boats.", 2, 400),  # the same on every page, mid-page
        Line(str(number), 9.0, False, 3, 800, 809),  # bottom margin: the page number
    ]


def test_running_headers_and_page_numbers_repeated_on_three_pages_are_dropped():
    pages = [page_with_furniture(n) for n in (1, 2, 3)]
    assert [[b.text for b in page] for page in lay_out(pages, [A4] * 3)] == [
        [f"Day {n}: the tide rose at dawn.", "Gulls followed the boats."] for n in (1, 2, 3)
    ]
    two = lay_out(pages[:2], [A4] * 2)  # on two pages only: not taken for furniture
    assert [b.text for b in two[0]][0] == "Journal of Harbour Studies, vol. 7"


def test_an_authors_mail_line_is_dropped_and_a_sentence_naming_an_address_is_not():
    mail = body("ann@harbour.example, bo@harbour.example", 0, 100)
    sentence = body(
        "Write to ann@harbour.example for the raw gauge data of every harbour in the survey.",
        1,
        200,
    )
    assert [b.text for b in lay_out([[mail, sentence]], [A4])[0]] == [sentence.text]


def test_the_title_is_the_metadata_title_unless_it_is_junk():
    first_page = [
        Line("Tides of the", 16.0, True, 0, 60, 78),
        Line("North Sea", 16.2, True, 0, 80, 98),
        body("Tides rise twice a day.", 1, 120),
    ]
    assert title_of("Harbour Tides, a Survey", first_page) == "Harbour Tides, a Survey"
    for junk in ("", "Untitled", "Document3", "  ", "abc"):
        assert title_of(junk, first_page) == "Tides of the North Sea"
    assert title_of("Untitled", []) is None
