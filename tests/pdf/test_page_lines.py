"""Pages read as lines: each page's lines with their font and position, its height, and
whether OCR read it; a page over its character limit refused, and a scan too large to render
for OCR within the memory limit refused before it is rendered (no Tesseract needed)."""

from __future__ import annotations

import pymupdf
import pytest

from ragsvc.core.errors import TooLarge
from ragsvc.pdf.ocr import Ocr, check_ocr_size
from ragsvc.pdf.page_lines import PageOptions, lines_of_page, page_lines
from tests.support.hostile_pdfs import huge_scan
from tests.support.pdfs import make_pdf


def test_each_page_gives_its_lines_its_height_and_no_ocr():
    data = make_pdf(["Tides rise twice a day.", "", "Gulls nest on the cliffs."])
    pages = page_lines(data, 0, 3, PageOptions(max_chars=10**6))
    assert [(len(lines) > 0, height, ocr) for lines, height, ocr in pages] == [
        (True, 842.0, False),
        (False, 842.0, False),
        (True, 842.0, False),
    ]
    (first,) = pages[0][0]
    assert first.text == "Tides rise twice a day." and first.size == pytest.approx(10.0)
    assert not first.bold and first.table == -1
    assert 56 <= first.top < first.bottom < 100 and first.left == pytest.approx(56, abs=2)
    assert [line.text for line in pages[2][0]] == ["Gulls nest on the cliffs."]


def test_a_range_of_pages_is_read_from_its_start():
    data = make_pdf(["Page one.", "Page two.", "Page three."])
    pages = page_lines(data, 1, 3, PageOptions(10**6))
    assert [[line.text for line in lines] for lines, _, _ in pages] == [
        ["Page two."],
        ["Page three."],
    ]


def test_bold_lines_are_told_from_their_font():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "2 Method", fontsize=12, fontname="hebo")
    page.insert_text((72, 100), "We measured tides.", fontsize=10)
    lines, _, _ = lines_of_page(page, PageOptions(10**6))
    assert [(line.text, line.bold, round(line.size)) for line in lines] == [
        ("2 Method", True, 12),
        ("We measured tides.", False, 10),
    ]
    doc.close()


def test_a_page_over_its_character_limit_is_too_large():
    data = make_pdf(["Short page.", "x" * 60])
    assert page_lines(data, 0, 1, PageOptions(max_chars=50))  # page 1 is within it
    with pytest.raises(TooLarge, match="page 2 holds more than 50 characters"):
        page_lines(data, 0, 2, PageOptions(max_chars=50))
    page_lines(data, 1, 2, PageOptions(max_chars=60))  # exactly at the limit: read


@pytest.mark.parametrize(
    ("side", "ocr", "pixels", "need_mb"),
    [  # 16 bytes a pixel, and 200 MB of the worker's own
        (14_400, Ocr("eng", 300, 1024), "60,000 x 60,000", "55,132"),
        (595, Ocr("eng", 300, 256), "2,479 x 2,479", "294"),  # A4's width, square
        (14_400, Ocr("eng", 72, 2048), "14,400 x 14,400", "3,365"),
    ],
)
def test_a_scan_too_large_to_render_for_ocr_is_refused_naming_the_memory_limit(
    side: float, ocr: Ocr, pixels: str, need_mb: str
):
    with pymupdf.open(stream=huge_scan(side), filetype="pdf") as doc:
        with pytest.raises(TooLarge) as refused:
            lines_of_page(doc[0], PageOptions(10**6, ocr))
    assert refused.value.detail == (
        f"page 1 needs about {need_mb} MB to be read by OCR at {ocr.dpi} dpi ({pixels} pixels),"
        f" more than RAGSVC_PARSE_MEMORY_MB ({ocr.memory_mb:,} MB) allows"
    )


def test_a_scan_within_the_memory_limit_may_be_rendered_for_ocr():
    with pymupdf.open(stream=huge_scan(1200), filetype="pdf") as doc:  # 25 Mpx at 300 dpi
        check_ocr_size(doc[0], Ocr("eng", 300, 1024))  # read within 1024 MB, measured
        with pytest.raises(TooLarge):
            check_ocr_size(doc[0], Ocr("eng", 600, 1024))  # four times the pixels
