"""A page on another site, in Chromium: the server on 127.0.0.1, the page on localhost (a
different site), allowed by RAGSVC_CORS_ORIGINS. With an API key it creates a session; an
upload relying on the cookie, which Chromium withholds from another site, is refused with a
problem the page can read, instead of making a new session each time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings
from tests.support.browser import chromium
from tests.support.fakes import fake_backends
from tests.support.server import serving_in_thread

pytestmark = pytest.mark.e2e

# Runs in the page: a session by API key, then uploads with the cookie alone (twice; with
# the key, which would let an upload make a session), then with the bearer token; what each
# call answered.
SCRIPT = """async ({ base }) => {
  const created = await fetch(`${base}/sessions`, {
    method: "POST", credentials: "include", headers: { "X-API-Key": "key-1" },
  });
  const { token } = await created.json();
  const upload = async (headers) => {
    const form = new FormData();
    form.append("files", new Blob(["%PDF-1.4"], { type: "application/pdf" }), "a.pdf");
    const reply = await fetch(`${base}/upload`, {
      method: "POST", credentials: "include", headers, body: form,
    });
    return { status: reply.status, body: await reply.json() };
  };
  return {
    created: created.status,
    cookieOnly: [await upload({ "X-API-Key": "key-1" }), await upload({ "X-API-Key": "key-1" })],
    bearer: await upload({ Authorization: `Bearer ${token}` }),
  };
}"""


def front_end() -> Starlette:
    page = HTMLResponse("<!doctype html><title>another site</title>")
    return Starlette(routes=[Route("/", lambda request: page)])


@pytest.fixture
def two_sites(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the server's URL, the URL of a page on another site allowed to call it)."""
    with serving_in_thread(front_end()) as page:
        page = page.replace("127.0.0.1", "localhost")
        settings = Settings(
            data_dir=tmp_path / "data", cors_origins=[page], api_keys=[SecretStr("key-1")]
        )
        with serving_in_thread(create_app(settings, fake_backends(settings))) as base:
            yield base, page


def test_a_page_on_another_site_is_told_its_cookie_was_not_sent(two_sites: tuple[str, str]):
    base, page_url = two_sites
    with chromium() as browser:
        page = browser.new_page()
        page.goto(page_url)
        result: dict[str, Any] = page.evaluate(SCRIPT, {"base": base})
    assert result["created"] == 201  # X-API-Key passed the preflight
    for refused in result["cookieOnly"]:
        assert refused["status"] == 401
        assert refused["body"]["type"] == "urn:ragsvc:problem:cookie-not-sent"
        assert "Authorization: Bearer" in refused["body"]["detail"]
    assert result["bearer"]["status"] != 401  # the token works from there (a.pdf is no PDF)
