"""Content that pages share is counted once per page that draws it, before any page is read:
a file of a few hundred KB whose 2,000 pages draw one 64 MiB stream is refused at once."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from ragsvc.core.errors import TooLarge
from ragsvc.pdf.content_budget import shared_content_bytes
from ragsvc.pdf.mupdf import pymupdf
from ragsvc.pdf.read import parse_pdf
from tests.support.hostile_pdfs import shared_stream_bomb
from tests.support.pdfs import LIMITS, make_pdf

MB = 2**20


def test_a_shared_stream_counts_once_for_each_page_drawing_it():
    with pymupdf.open(stream=shared_stream_bomb(2, pages=10)) as doc:
        assert shared_content_bytes(doc, 100 * MB) == 10 * 2 * MB


def test_the_count_stops_soon_after_the_limit():
    with pymupdf.open(stream=shared_stream_bomb(64, pages=2000)) as doc:
        started = time.monotonic()
        counted = shared_content_bytes(doc, 512 * MB)
        assert counted > 512 * MB
        assert time.monotonic() - started < 2  # not 2,000 inflations of 64 MiB


def test_pages_of_their_own_share_nothing():
    with pymupdf.open(stream=make_pdf(["One.", "Two.", "Three."])) as doc:
        assert shared_content_bytes(doc, MB) == 0


def test_a_document_past_the_limit_is_refused_before_any_page_is_read():
    bomb = shared_stream_bomb(64, pages=2000)
    assert len(bomb) < 1 * MB
    limits = replace(LIMITS, max_pages=2000)
    with pytest.raises(TooLarge, match=r"bomb\.pdf: its pages draw more than .* MB of content"):
        parse_pdf(bomb, "bomb.pdf", limits)
