"""Serving front-ends elsewhere. CORS: off by default; for the origins in
RAGSVC_CORS_ORIGINS, preflights answered and the headers a front-end needs allowed and
exposed, on answers and refusals alike (a browser calling from a second origin:
tests/project/test_clients_doc.py). RAGSVC_ROOT_PATH (the page behind a proxy under a path:
tests/system/test_web_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ragsvc.api.serving import uvicorn_options
from ragsvc.core.config import Settings
from tests.support.apps import app_client

pytestmark = pytest.mark.anyio
ORIGIN = "https://app.example"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, last-event-id",
}


async def test_an_allowed_origin_gets_preflights_and_readable_headers(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", cors_origins=[ORIGIN])
    async with app_client(settings) as http:
        allowed = await http.options("/ask", headers=PREFLIGHT)
        refused = await http.options("/ask", headers={**PREFLIGHT, "Origin": "https://x.example"})
        created = await http.post("/sessions", headers={"Origin": ORIGIN})
        http.cookies.clear()
        unauthorized = await http.post("/ask", json={"question": "q"}, headers={"Origin": ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "last-event-id" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    for reply in (created, unauthorized):  # a refusal's problem+json is readable too
        assert reply.headers["access-control-allow-origin"] == ORIGIN
        assert "X-Answer-Id" in reply.headers["access-control-expose-headers"]
    assert unauthorized.status_code == 401


async def test_no_cors_by_default(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data")
    async with app_client(settings) as http:
        preflight = await http.options("/ask", headers=PREFLIGHT)
        created = await http.post("/sessions", headers={"Origin": ORIGIN})
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in created.headers


async def test_a_cross_site_cookie_is_always_secure(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", cookie_samesite="none")
    async with app_client(settings) as http:
        created = await http.post("/sessions")
        bearer = {"Authorization": f"Bearer {created.json()['token']}"}
        deleted = await http.delete("/sessions/current", headers=bearer)
    for reply in (created, deleted):
        cookie = reply.headers["set-cookie"].lower()
        assert "samesite=none" in cookie and "secure" in cookie


def test_the_root_path_goes_to_uvicorn_and_must_be_a_clean_path(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", root_path="/rag/v1")
    assert uvicorn_options(settings)["root_path"] == "/rag/v1"
    assert uvicorn_options(Settings(data_dir=tmp_path / "data"))["root_path"] == ""
    for bad in ("rag", "/rag/", "//rag", "/"):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path / "data", root_path=bad)
