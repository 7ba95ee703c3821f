"""Sessions and uploads as the HTTP tests make them: a new session for each caller, an
upload waited for or not, a document's ingestion events once it has settled, and PDFs
padded to a size."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import httpx
import pymupdf

from tests.support.apps import parse_sse
from tests.support.pdfs import make_pdf


async def new_session(http: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers of a new session (the client keeps no cookie of it)."""
    reply = await http.post("/sessions")
    http.cookies.clear()  # each caller says who it is
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def upload(
    http: httpx.AsyncClient, data: bytes, who: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    """Upload `data` as bomb.pdf with the query `params`; as `who`, else as the client's
    cookie says (a new session if it has none)."""
    files = {"files": ("bomb.pdf", data)}
    return await http.post("/upload", files=files, params=params, headers=who or {})


async def upload_later(http: httpx.AsyncClient, pdf: Callable, text: str, who: dict[str, str]):
    """Upload a one-page PDF of `text` without waiting for its ingestion (202 if taken)."""
    files = {"files": (f"{text[:8]}.pdf", pdf([text]))}
    return await http.post("/upload", params={"wait": "false"}, files=files, headers=who)


async def settled(http: httpx.AsyncClient, document: dict, who: dict[str, str]) -> list[dict]:
    """The document's ingestion events, once it has settled."""
    reply = await http.get(f"/documents/{document['id']}/events", headers=who)
    return [{"event": f["event"], **json.loads(f["data"])} for f in parse_sse(reply.text)]


def padded_pdf(text: str, megabytes: int) -> bytes:
    """A one-page PDF carrying `megabytes` of incompressible attachment."""
    doc = pymupdf.open(stream=make_pdf([text]), filetype="pdf")
    doc.embfile_add("padding.bin", os.urandom(megabytes * 2**20))
    data = bytes(doc.tobytes())
    doc.close()
    return data
