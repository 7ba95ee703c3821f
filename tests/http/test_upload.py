"""Uploads: the happy paths, and every bad input with its problem+json status."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ragsvc.core.config import Settings

pytestmark = pytest.mark.anyio

PAGES = [
    "Herons are wading birds. They hunt fish in shallow water at dawn.",
    "",  # a page without text
    "Otters build dens called holts along river banks. They eat crayfish.",
]


def as_files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/pdf")) for name, data in items]


def assert_problem(reply: httpx.Response, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert (
        body["status"] == status
        and body["detail"]
        and body["type"].startswith("urn:ragsvc:problem:")
    )
    return body


async def test_upload_without_token_creates_session(client: httpx.AsyncClient, pdf: Callable):
    reply = await client.post("/upload", files=as_files(("birds.pdf", pdf(PAGES))))
    assert reply.status_code == 201
    body = reply.json()
    token = body["token"]
    [doc] = body["documents"]
    assert doc["status"] == "ready" and doc["pages"] == 3 and doc["chunks"] >= 3
    assert doc["filename"] == "birds.pdf" and len(doc["sha256"]) == 64
    listed = await client.get("/documents", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["documents"] == [doc]


async def test_upload_with_token_adds_to_session_without_new_token(
    client: httpx.AsyncClient, session: dict, pdf: Callable
):
    reply = await client.post(
        "/upload",
        files=as_files(("a.pdf", pdf(["Apples grow on trees."])), ("b.pdf", pdf(["Bees."]))),
        headers=session,
    )
    assert reply.status_code == 201
    assert reply.json()["token"] is None
    assert [d["filename"] for d in reply.json()["documents"]] == ["a.pdf", "b.pdf"]
    info = (await client.get("/sessions/current", headers=session)).json()
    assert len(info["documents"]) == 2


@pytest.mark.disk
async def test_same_content_twice_is_the_same_document(
    client: httpx.AsyncClient, session: dict, pdf: Callable, settings: Settings
):
    data = pdf(["Crayfish live under stones."])
    first = (await client.post("/upload", files=as_files(("x.pdf", data)), headers=session)).json()
    again = await client.post(
        "/upload", files=as_files(("renamed.pdf", data), ("x.pdf", data)), headers=session
    )
    assert again.status_code == 201
    assert [d["id"] for d in again.json()["documents"]] == [first["documents"][0]["id"]]
    assert len((await client.get("/documents", headers=session)).json()["documents"]) == 1
    folder = next((settings.data_dir / "sessions").iterdir())
    assert [p.name for p in folder.glob("gen-*")] == ["gen-000001"]  # nothing rewritten


async def test_pdf_without_text_is_a_no_text_document(
    client: httpx.AsyncClient, session: dict, pdf: Callable
):
    reply = await client.post(
        "/upload", files=as_files(("scan.pdf", pdf(["", ""]))), headers=session
    )
    assert reply.status_code == 201
    [doc] = reply.json()["documents"]
    assert doc["status"] == "no_text" and doc["chunks"] == 0 and "OCR" in doc["detail"]
    ask = await client.post("/ask", json={"question": "anything?"}, headers=session)
    assert_problem(ask, 409)


async def test_get_and_delete_document(client: httpx.AsyncClient, session: dict, pdf: Callable):
    up = await client.post("/upload", files=as_files(("a.pdf", pdf(PAGES))), headers=session)
    doc = up.json()["documents"][0]
    got = await client.get(f"/documents/{doc['id']}", headers=session)
    assert got.json() == doc
    assert (await client.delete(f"/documents/{doc['id']}", headers=session)).status_code == 204
    assert_problem(await client.get(f"/documents/{doc['id']}", headers=session), 404)
    assert_problem(await client.delete(f"/documents/{doc['id']}", headers=session), 404)
    ask = await client.post("/ask", json={"question": "What do otters eat?"}, headers=session)
    assert_problem(ask, 409)


async def test_empty_file_is_415(client: httpx.AsyncClient, session: dict):
    reply = await client.post("/upload", files=as_files(("empty.pdf", b"")), headers=session)
    assert_problem(reply, 415)


async def test_text_file_named_pdf_is_415(client: httpx.AsyncClient, session: dict):
    reply = await client.post(
        "/upload", files=as_files(("notes.pdf", b"just some text\n" * 50)), headers=session
    )
    assert_problem(reply, 415)


async def test_truncated_pdf_is_422(client: httpx.AsyncClient, session: dict, pdf: Callable):
    data = pdf(PAGES)
    reply = await client.post(
        "/upload", files=as_files(("cut.pdf", data[: len(data) // 3])), headers=session
    )
    assert_problem(reply, 422)


async def test_encrypted_pdf_is_422(client: httpx.AsyncClient, session: dict, pdf: Callable):
    data = pdf(["Top secret herons."], password="hunter2")
    body = assert_problem(
        await client.post("/upload", files=as_files(("locked.pdf", data)), headers=session), 422
    )
    assert "encrypted" in body["detail"]


async def test_one_bad_file_rejects_the_whole_upload(
    client: httpx.AsyncClient, session: dict, pdf: Callable
):
    files = as_files(("good.pdf", pdf(PAGES)), ("bad.pdf", b"not a pdf at all"))
    assert_problem(await client.post("/upload", files=files, headers=session), 415)
    assert (await client.get("/documents", headers=session)).json()["documents"] == []


@pytest.mark.disk
async def test_rejected_tokenless_upload_leaves_no_session(
    client: httpx.AsyncClient, settings: Settings
):
    assert_problem(await client.post("/upload", files=as_files(("x.pdf", b"nope"))), 415)
    assert list((settings.data_dir / "sessions").iterdir()) == []


@pytest.fixture
def small_limits(settings: Settings) -> Settings:
    """Tests ask for it before `client`: the app reads its settings when it starts."""
    settings.max_upload_mb = 0.05  # 52 kB
    settings.max_pages = 3
    return settings


async def test_oversize_body_is_413(small_limits, client: httpx.AsyncClient, session: dict):
    big = b"%PDF-1.7\n" + b"0" * 200_000
    reply = await client.post("/upload", files=as_files(("big.pdf", big)), headers=session)
    assert "limit of 0.05 MB" in assert_problem(reply, 413)["detail"]


async def test_oversize_body_without_content_length_is_413(
    small_limits, client: httpx.AsyncClient, session: dict
):
    """A chunked body announces no size: the cap must hold while the body streams."""
    boundary = "xyz"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="b.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).encode()
    sent = 0

    async def body():
        nonlocal sent
        yield head
        for _ in range(100):  # up to 1.6 MB, far past the 52 kB cap
            sent += 16_384
            yield b"0" * 16_384
        yield f"\r\n--{boundary}--\r\n".encode()

    reply = await client.post(
        "/upload",
        content=body(),
        headers={**session, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_problem(reply, 413)


async def test_too_many_pages_is_413(
    small_limits, client: httpx.AsyncClient, session: dict, pdf: Callable
):
    reply = await client.post(
        "/upload", files=as_files(("long.pdf", pdf(["page"] * 4))), headers=session
    )
    body = assert_problem(reply, 413)
    assert "4 pages" in body["detail"]


async def test_upload_needs_multipart_files_field(client: httpx.AsyncClient, session: dict):
    assert_problem(await client.post("/upload", json={"files": []}, headers=session), 400)
    reply = await client.post("/upload", files={"other": ("a.pdf", b"%PDF-")}, headers=session)
    assert_problem(reply, 400)
