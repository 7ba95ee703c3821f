"""Hostile input is answered as a problem or handled, never a 500: a page tree claiming a
billion pages is an unreadable PDF, and a Last-Event-ID that is no number starts a fresh
answer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_a_page_tree_claiming_a_billion_pages_is_unreadable_not_500(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable
):
    claimed = pdf(["One real page."]).replace(b"/Count 1", b"/Count 1000000000")
    reply = await client.post("/upload", files={"files": ("huge.pdf", claimed)}, headers=session)
    assert reply.status_code == 422, reply.text
    assert reply.json()["type"] == "urn:ragsvc:problem:unreadable-pdf"


@pytest.mark.parametrize("seq", ["²", "1²", "9" * 5000])
async def test_a_last_event_id_that_is_no_number_starts_a_fresh_answer(
    client: httpx.AsyncClient, session: dict[str, str], pdf: Callable, seq: str
):
    files = {"files": ("h.pdf", pdf(["The harbour master rings the bell at noon."]))}
    assert (await client.post("/upload", files=files, headers=session)).status_code == 201
    # Header bytes are latin-1 to the server: b"\xb2" arrives as "²", a digit to str.isdigit.
    last_event_id = f"0123abcd:{seq}".encode("latin-1")
    headers = {**session, "Last-Event-ID": last_event_id}
    reply = await client.post("/ask", json={"question": "When is the bell rung?"}, headers=headers)
    assert reply.status_code == 200 and "event: done" in reply.text
