"""GET /documents/{id}/pages/{n}: a cited page as a PNG, its quote highlighted, cached."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pymupdf
import pytest

from ragsvc.core.config import Settings
from tests.support.apps import parse_sse

pytestmark = pytest.mark.anyio
PAGES = [
    "The lighthouse keeper lights the lamp at dusk every evening.",
    "The keeper records every passing ship in a leather logbook.",
]
QUOTE = "every passing ship in a leather logbook"


async def uploaded(client: httpx.AsyncClient, session: dict, pdf: Callable, wait: bool) -> str:
    files = {"files": ("keeper.pdf", pdf(PAGES), "application/pdf")}
    reply = await client.post("/upload", params={"wait": wait}, files=files, headers=session)
    [doc] = reply.json()["documents"]
    if not wait:  # follow its ingest to the end
        events = await client.get(f"/documents/{doc['id']}/events", headers=session)
        assert parse_sse(events.text)[-1]["event"] == "ready"
    return str(doc["id"])


def yellow_pixels(png: bytes) -> int:
    """Pixels of the highlight's yellow (the page is black text on white)."""
    image = pymupdf.Pixmap(png)
    samples, n = image.samples, image.n
    return sum(
        1
        for at in range(0, len(samples), n)
        if samples[at] > 200 and samples[at + 1] > 180 and samples[at + 2] < 120
    )


@pytest.mark.parametrize("wait", [True, False])  # ingested at once, and in the background
async def test_a_page_as_a_png_with_its_quote_highlighted(client, session, pdf, wait: bool):
    doc = await uploaded(client, session, pdf, wait)
    url = f"/documents/{doc}/pages/2"
    plain = await client.get(url, params={"width": 400}, headers=session)
    marked = await client.get(url, params={"width": 400, "quote": QUOTE}, headers=session)
    for reply in (plain, marked):
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "image/png"
        assert reply.headers["cache-control"] == "private, max-age=86400"
        image = pymupdf.Pixmap(reply.content)
        assert image.width == 400 and image.height > 400  # A4, upright
    assert plain.headers["x-highlighted"] == "false" and yellow_pixels(plain.content) == 0
    assert marked.headers["x-highlighted"] == "true" and yellow_pixels(marked.content) > 500
    assert "x-highlight-box" not in plain.headers
    left, top, right, bottom = map(float, marked.headers["x-highlight-box"].split(","))
    assert 0 < left < right < 1 and 0 < top < bottom < 0.2  # a line near the page's top
    assert plain.headers["etag"] != marked.headers["etag"]
    absent = await client.get(url, params={"quote": "penguins on the ice"}, headers=session)
    assert absent.headers["x-highlighted"] == "false"


async def test_a_known_etag_is_not_modified(client, session, pdf):
    doc = await uploaded(client, session, pdf, True)
    url = f"/documents/{doc}/pages/1"
    first = await client.get(url, headers=session)
    etag = first.headers["etag"]
    again = await client.get(url, headers={**session, "If-None-Match": f'W/"x", {etag}'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await client.get(url, params={"width": 300}, headers={**session, "If-None-Match": etag})
    assert other.status_code == 200


async def test_the_width_is_bounded(client, session, pdf):
    doc = await uploaded(client, session, pdf, True)
    url = f"/documents/{doc}/pages/1"
    widest = await client.get(url, params={"width": 1200}, headers=session)
    assert pymupdf.Pixmap(widest.content).width == 1200
    for width in (1201, 99, "wide"):
        reply = await client.get(url, params={"width": width}, headers=session)
        assert reply.status_code == 422
        assert reply.headers["content-type"] == "application/problem+json"
    too_long = await client.get(url, params={"quote": "x" * 2001}, headers=session)
    assert too_long.status_code == 422


async def test_pages_and_documents_not_in_the_session_are_404(client, session, pdf):
    doc = await uploaded(client, session, pdf, True)
    other = {"Authorization": f"Bearer {(await client.post('/sessions')).json()['token']}"}
    client.cookies.clear()
    cases = [
        (f"/documents/{doc}/pages/3", session, "page-not-found"),
        ("/documents/nope/pages/1", session, "document-not-found"),
        (f"/documents/{doc}/pages/1", other, "document-not-found"),  # another session's
    ]
    for url, headers, slug in cases:
        reply = await client.get(url, headers=headers)
        assert reply.status_code == 404, url
        assert reply.headers["content-type"] == "application/problem+json"
        assert json.loads(reply.text)["type"].endswith(slug)
    assert (await client.get(f"/documents/{doc}/pages/0", headers=session)).status_code == 422
    assert (await client.get(f"/documents/{doc}/pages/1")).status_code == 401


async def test_a_deleted_document_takes_its_pdf_along(client, session, pdf, settings: Settings):
    doc = await uploaded(client, session, pdf, False)
    assert (await client.get(f"/documents/{doc}/pages/1", headers=session)).status_code == 200
    if settings.store == "disk":
        kept = list((settings.data_dir / "sessions").glob(f"*/pdfs/{doc}"))
        assert len(kept) == 1 and kept[0].read_bytes().startswith(b"%PDF")
        assert list((settings.data_dir / "sessions").glob("*/uploads/*")) == []
    assert (await client.delete(f"/documents/{doc}", headers=session)).status_code == 204
    assert (await client.get(f"/documents/{doc}/pages/1", headers=session)).status_code == 404
    if settings.store == "disk":
        assert list((settings.data_dir / "sessions").glob("*/pdfs/*")) == []
