"""Every reply carries the security headers (the page its own content policy), and the
session cookie follows the session: set when the cookie is used, not on Bearer requests."""

from __future__ import annotations

import pytest

from ragsvc.core.config import Settings
from tests.support.apps import app_client
from tests.support.uploads import new_session

pytestmark = pytest.mark.anyio


async def test_security_headers_and_a_cookie_that_follows_the_session(settings: Settings):
    async with app_client(settings) as http:
        created = await http.post("/sessions")
        assert "secure" not in created.headers["set-cookie"].lower()  # plain HTTP here
        by_cookie = await http.get("/documents")
        http.cookies.clear()
        by_header = await http.get("/documents", headers=await new_session(http))
        page = await http.get("/")
    assert f"Max-Age={settings.session_ttl}" in by_cookie.headers["set-cookie"]
    assert "set-cookie" not in by_header.headers
    for reply in (created, by_cookie, page):
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]  # its own policy
