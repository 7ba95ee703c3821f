"""The PDF reader on its own, without HTTP: what is refused and why (not a PDF, unreadable,
too large, naming the file), the title, reading in windows in-process with progress, and a
document without text."""

from __future__ import annotations

import pymupdf
import pytest

from ragsvc.core.errors import NotAPdf, TooLarge, UnreadablePdf
from ragsvc.pdf.parsed import ParsedDocument
from ragsvc.pdf.read import FIRST_WINDOW, Listeners, ParseLimits, check_pdf_magic, parse_pdf
from tests.support.pdfs import LIMITS, make_pdf


def titled_pdf(meta_title: str | None) -> bytes:
    """A 16 pt title line over 10 pt text, and `meta_title` as the metadata title."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "Tides of the North Sea", fontsize=16)
    page.insert_textbox(pymupdf.Rect(72, 100, 520, 300), "Tides rise twice a day. " * 5)
    if meta_title is not None:
        doc.set_metadata({"title": meta_title})
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def log_pages(count: int) -> list[str]:
    return [f"Harbour log, day {day}: the tide rose at dawn." for day in range(1, count + 1)]


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "the file is empty"),
        (b"Tides rise twice a day.", "does not start with a PDF header"),
        (b"x" * 1024 + b"%PDF-1.7\n", "does not start with a PDF header"),  # past 1024 bytes
    ],
)
def test_a_file_without_a_pdf_header_is_not_a_pdf(data: bytes, detail: str):
    with pytest.raises(NotAPdf, match=detail):
        check_pdf_magic(data)
    with pytest.raises(NotAPdf, match=detail):
        parse_pdf(data, "tides.pdf", LIMITS)


def test_a_header_within_the_first_kilobyte_is_enough():
    check_pdf_magic(b"x" * 1000 + b"%PDF-1.7\n")  # the spec allows leading bytes
    parsed = parse_pdf(b"\n\n" + make_pdf(["Tides rise."]), "tides.pdf", LIMITS)
    assert "Tides rise." in parsed.pages[0][0].text


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"%PDF-1.7\n" + b"\x00\xffgarbage" * 100, "cannot be opened as a PDF"),
        (make_pdf(["Tides rise."])[:400], "damaged"),  # truncated
    ],
)
def test_garbage_after_a_header_is_unreadable(data: bytes, detail: str):
    with pytest.raises(UnreadablePdf, match=f"^tides.pdf: .*{detail}"):
        parse_pdf(data, "tides.pdf", LIMITS)


def test_a_password_protected_pdf_is_refused_as_unreadable():
    with pytest.raises(UnreadablePdf, match="tides.pdf: the PDF is encrypted with a password"):
        parse_pdf(make_pdf(["Tides rise."], password="secret"), "tides.pdf", LIMITS)


def test_more_pages_than_allowed_is_too_large():
    data = make_pdf(log_pages(3))
    limits = ParseLimits(max_pages=2, max_page_chars=10**6, max_document_chars=10**8)
    with pytest.raises(TooLarge, match="log.pdf: 3 pages, more than the limit of 2"):
        parse_pdf(data, "log.pdf", limits)
    assert len(parse_pdf(data, "log.pdf", ParseLimits(3, 10**6, 10**8)).pages) == 3


def test_a_page_with_too_much_text_is_too_large_naming_the_file_and_page():
    data = make_pdf(["Tides rise.", "x" * 60])
    limits = ParseLimits(max_pages=10, max_page_chars=50, max_document_chars=10**8)
    with pytest.raises(TooLarge, match="^log.pdf: page 2 holds more than 50 characters"):
        parse_pdf(data, "log.pdf", limits)


def test_a_document_with_too_much_text_is_too_large_naming_the_file():
    data = make_pdf(["a" * 30, "b" * 30])  # no page over its limit, 60 characters in all
    with pytest.raises(TooLarge, match="^log.pdf: more than 50 characters of text"):
        parse_pdf(data, "log.pdf", ParseLimits(10, 40, 50))
    assert parse_pdf(data, "log.pdf", ParseLimits(10, 40, 60)).has_text


def test_the_metadata_title_is_the_title():
    parsed = parse_pdf(titled_pdf("Harbour Tides, a Survey"), "tides.pdf", LIMITS)
    assert parsed.title == "Harbour Tides, a Survey"


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "",
        "Untitled",
        "Document1",
        "Microsoft Word",
        "abc",  # too short to be a title
    ],
)
def test_without_a_good_metadata_title_the_largest_line_of_page_one_is(junk: str | None):
    assert parse_pdf(titled_pdf(junk), "tides.pdf", LIMITS).title == "Tides of the North Sea"


def test_a_document_read_in_windows_counts_every_page_and_hands_over_its_beginning():
    data = make_pdf(log_pages(2 * FIRST_WINDOW + 3))  # windows of 8, 8, then the last 3
    seen: list[tuple[int, int]] = []
    parts: list[ParsedDocument] = []
    listeners = Listeners(lambda done, total: seen.append((done, total)), parts.append, 0.0)
    whole = parse_pdf(data, "log.pdf", LIMITS, listeners)
    assert seen == [(done, 19) for done in range(1, 20)]  # in-process: page by page
    assert [len(part.pages) for part in parts] == [8, 16]
    for part in parts:
        assert part.pages == whole.pages[: len(part.pages)]
        assert part.title == whole.title and not part.repaired
    assert whole == parse_pdf(data, "log.pdf", LIMITS)  # the same as read in one go


def test_a_document_read_faster_than_the_pace_asked_is_handed_over_only_at_its_end():
    data = make_pdf(log_pages(FIRST_WINDOW + 4))
    seen: list[int] = []
    parts: list[ParsedDocument] = []
    listeners = Listeners(lambda done, _: seen.append(done), parts.append, part_every_s=3600)
    parse_pdf(data, "log.pdf", LIMITS, listeners)
    assert parts == [] and seen == list(range(1, FIRST_WINDOW + 5))


def test_progress_is_counted_without_windows_when_no_part_is_wanted():
    seen: list[tuple[int, int]] = []
    parse_pdf(
        make_pdf(log_pages(3)), "log.pdf", LIMITS, Listeners(on_page=lambda *p: seen.append(p))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_pages_without_text_make_a_document_without_text():
    parsed = parse_pdf(make_pdf(["", ""]), "blank.pdf", LIMITS)
    assert parsed.pages == [[], []] and not parsed.has_text and parsed.title is None
    assert parse_pdf(make_pdf(["", "Tides rise."]), "half.pdf", LIMITS).has_text


def test_the_outline_comes_from_the_table_of_contents():
    doc = pymupdf.open(stream=make_pdf(log_pages(2)), filetype="pdf")
    doc.set_toc([[1, "1 Tides", 1], [2, "1.1 Gauges", 2], [1, "  ", 2]])
    data = doc.tobytes()
    doc.close()
    assert parse_pdf(data, "log.pdf", LIMITS).outline == ["1 Tides", "1.1 Gauges"]
