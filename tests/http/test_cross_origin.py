"""A page on another origin: CORS lets it send every request header the API reads and read
every response header it sends; a page on another site whose session cookie the browser
withheld is told so (and how to authenticate instead), not given a new session per upload.
The same in Chromium: tests/system/test_cross_site_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ragsvc.api.middleware import CORS_REQUEST_HEADERS, CORS_RESPONSE_HEADERS
from ragsvc.core.config import Settings
from tests.support.apps import app_client
from tests.support.paths import ROOT
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.anyio
ORIGIN = "https://app.example"
CROSS_SITE = {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"}
PDF = {"files": ("owls.pdf", make_pdf(["Barn owls hunt voles at night."]))}
# What a page may read without being allowed, or never (Set-Cookie), and what only the
# browser or a proxy reads (the security and anti-buffering headers).
NOT_FOR_PAGES = {
    "cache-control", "content-language", "content-length", "content-type", "expires",
    "last-modified", "pragma", "set-cookie", "date", "server", "vary", "x-accel-buffering",
    "x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy",
    "transfer-encoding", "connection",
}  # fmt: skip
# Sent by the browser itself, never by a page's script (the Fetch standard's forbidden
# request headers), or CORS-safelisted.
NOT_FROM_PAGES = {"content-length", "sec-fetch-site", "cookie", "host", "origin"}


def read_request_headers() -> set[str]:
    """Every request header ragsvc's server code reads by name (ragsvc.client reads the
    headers of responses)."""
    package = ROOT / "src" / "ragsvc"
    files = [p for p in package.rglob("*.py") if "client" not in p.relative_to(package).parts]
    code = "\n".join(p.read_text() for p in files)
    found = re.findall(r"""headers["'\]]*\)?\.get\(b?["']([A-Za-z-]+)["']""", code)
    return {name.lower() for name in found}


def test_every_request_header_the_api_reads_may_be_sent():
    read = read_request_headers()
    assert {"authorization", "x-api-key", "last-event-id"} <= read  # the scan finds them
    allowed = {name.lower() for name in CORS_REQUEST_HEADERS}
    assert read - NOT_FROM_PAGES <= allowed


async def test_every_response_header_the_api_sends_may_be_read(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", cors_origins=[ORIGIN])
    origin = {"Origin": ORIGIN}
    async with app_client(settings) as http:
        uploaded = await http.post("/upload", files=PDF, headers=origin)
        auth = {**origin, "Authorization": f"Bearer {uploaded.json()['token']}"}
        replies = [
            uploaded,
            await http.post("/ask?format=ai-sdk", json={"question": "Owls?"}, headers=auth),
            await http.post("/v1/chat/completions", json=chat("Owls?"), headers=auth),
            await http.delete("/ask", headers=auth),  # 405: Allow
            await http.get(f"{page_of(uploaded)}?quote=Barn+owls", headers=auth),
            await http.get("/documents", headers=origin | {"Authorization": "Bearer x"}),
        ]
    exposed = {name.lower() for name in CORS_RESPONSE_HEADERS}
    for reply in replies:
        readable = reply.headers["access-control-expose-headers"].lower().split(", ")
        assert set(readable) == exposed
        sent = {name.lower() for name in reply.headers} - NOT_FOR_PAGES
        assert {n for n in sent if not n.startswith("access-control-")} <= exposed, reply.url


def page_of(uploaded: httpx.Response) -> str:
    return f"/documents/{uploaded.json()['documents'][0]['id']}/pages/1"


def chat(question: str) -> dict[str, object]:
    return {"model": "ragsvc", "messages": [{"role": "user", "content": question}]}


async def test_a_page_on_another_origin_may_create_a_session_with_an_api_key(tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path / "data", cors_origins=[ORIGIN], api_keys=[SecretStr("k1")]
    )
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
    }
    async with app_client(settings) as http:
        allowed = await http.options("/sessions", headers=preflight)
        created = await http.post("/sessions", headers={**CROSS_SITE, "X-API-Key": "k1"})
    assert allowed.status_code == 200, allowed.text
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert created.status_code == 201


async def test_a_page_on_another_site_without_the_cookie_is_told_what_to_do(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", cors_origins=[ORIGIN])
    async with app_client(settings) as http:
        refused = await http.post("/upload", files=PDF, headers=CROSS_SITE)
        listing = await http.get("/documents", headers=CROSS_SITE)
        same_site = await http.post("/upload", files=PDF, headers={"Sec-Fetch-Site": "same-site"})
        created = await http.post("/sessions", headers=CROSS_SITE)
        bearer = {**CROSS_SITE, "Authorization": f"Bearer {created.json()['token']}"}
        with_token = await http.post("/upload", files=PDF, headers=bearer)
    for reply in (refused, listing):
        assert reply.status_code == 401 and "set-cookie" not in reply.headers
        problem = reply.json()
        assert problem["type"] == "urn:ragsvc:problem:cookie-not-sent"
        assert "SameSite=strict" in problem["detail"]
        assert "POST /sessions" in problem["detail"] and "Bearer" in problem["detail"]
        assert "RAGSVC_COOKIE_SAMESITE=none" in problem["detail"]
        assert reply.headers["access-control-allow-origin"] == ORIGIN  # the page reads it
    assert same_site.status_code == 201  # the cookie reaches another origin of the site
    assert created.status_code == 201 and with_token.status_code == 201


async def test_with_cross_site_cookies_allowed_a_missing_one_was_blocked(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", cookie_samesite="none")
    async with app_client(settings) as http:
        refused = await http.post("/upload", files=PDF, headers=CROSS_SITE)
        http.cookies.set("ragsvc_session", (await http.post("/sessions")).json()["token"])
        with_cookie = await http.post("/upload", files=PDF, headers=CROSS_SITE)
    assert refused.status_code == 401
    assert "third-party cookies" in refused.json()["detail"]
    assert "RAGSVC_COOKIE_SAMESITE" not in refused.json()["detail"]
    assert with_cookie.status_code == 201 and with_cookie.json()["token"] is None


async def test_clients_that_are_not_browsers_are_unchanged(tmp_path: Path):
    async with app_client(Settings(data_dir=tmp_path / "data")) as http:
        created = await http.post("/upload", files=PDF, headers={"Origin": ORIGIN})
        http.cookies.clear()
        unauthenticated = await http.get("/documents")
    assert created.status_code == 201 and created.json()["token"]
    assert unauthenticated.json()["type"] == "urn:ragsvc:problem:unauthorized"
