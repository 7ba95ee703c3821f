"""A PDF page drawn as a PNG: bounded in width and pixels, its quote highlighted."""

from __future__ import annotations

import pymupdf
import pytest

from ragsvc.pdf.page_images import MAX_PIXELS, render_page
from tests.support.pdfs import make_pdf

PAGES = ["The keeper records every passing ship in a leather logbook."]


def test_a_page_is_drawn_at_the_width_asked():
    image = render_page(make_pdf(PAGES), 1, 500)
    drawn = pymupdf.Pixmap(image.png)
    assert (drawn.width, drawn.height) == (image.width, image.height) and image.width == 500
    assert not image.highlighted


def test_a_tall_page_stays_within_the_pixel_budget():
    with pymupdf.open() as doc:
        doc.new_page(width=600, height=20_000).insert_text((72, 72), "A very long receipt.")
        data = doc.tobytes()
    image = render_page(data, 1, 1200)
    assert image.width * image.height <= MAX_PIXELS and image.width < 1200


def test_a_quote_found_in_part_is_still_marked():
    # The source's text and the page's differ (a word the page does not have)
    quote = "The keeper records every passing ship in a leather logbook, bound in brass."
    assert render_page(make_pdf(PAGES), 1, 400, quote).highlighted
    assert not render_page(make_pdf(PAGES), 1, 400, "penguins").highlighted


def test_no_such_page_is_an_index_error():
    with pytest.raises(IndexError):
        render_page(make_pdf(PAGES), 2, 400)


def test_where_the_quote_was_marked_is_given_as_fractions_of_the_page():
    with pymupdf.open() as doc:
        doc.new_page(width=600, height=800).insert_text((300, 700), "The bell rings at noon.")
        data = doc.tobytes()
    left, top, right, bottom = render_page(data, 1, 300, "bell rings at noon").marked or ()
    assert 0.5 < left < right < 1 and 0.85 < top < bottom < 0.9
