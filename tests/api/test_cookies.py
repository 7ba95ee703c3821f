"""The session cookie: HttpOnly, SameSite as configured, Secure when configured, when the
client came by HTTPS, and always with SameSite=None; renewed on responses to requests the
cookie authenticated, never on errors."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ragsvc.api.cookies import (
    COOKIE,
    REFRESH,
    RenewSessionCookie,
    delete_session_cookie,
    set_session_cookie,
)
from ragsvc.core.config import Settings
from tests.support.asgi import body_of, call, http_scope

pytestmark = pytest.mark.anyio


def cookie_of(settings: Settings, scheme: str = "http") -> list[str]:
    response = Response()
    connection = HTTPConnection(http_scope(scheme=scheme))
    set_session_cookie(response, "tok123", settings, connection)
    [cookie] = response.headers.getlist("set-cookie")
    return [part.strip() for part in cookie.split(";")]


def test_the_cookie_is_http_only_strict_and_lives_as_long_as_the_session():
    parts = cookie_of(Settings(session_ttl=3600))
    assert parts[0] == f"{COOKIE}=tok123"
    assert {"HttpOnly", "Max-Age=3600", "Path=/", "SameSite=strict"} <= set(parts)
    assert "Secure" not in parts


@pytest.mark.parametrize(
    ("settings", "scheme"),
    [
        (Settings(cookie_secure=True), "http"),
        (Settings(), "https"),
        (Settings(cookie_samesite="none"), "http"),  # browsers refuse None without Secure
    ],
)
def test_the_cookie_is_secure_when_it_must_be(settings: Settings, scheme: str):
    assert "Secure" in cookie_of(settings, scheme)


def test_the_cookie_follows_the_configured_same_site():
    assert "SameSite=lax" in cookie_of(Settings(cookie_samesite="lax"))


def test_a_deleted_cookie_expires_at_once():
    response = Response()
    delete_session_cookie(response, Settings(cookie_secure=True))
    [cookie] = response.headers.getlist("set-cookie")
    assert cookie.startswith(f'{COOKIE}="";') and "Max-Age=0" in cookie and "Secure" in cookie


def answering(status: int, token: str | None):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if token:
            scope["state"][REFRESH] = token  # as deps does for a cookie session
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.mark.parametrize(
    ("status", "token", "renewed"),
    [(200, "tok123", True), (404, "tok123", False), (200, None, False)],
)
async def test_the_cookie_is_renewed_on_answers_to_requests_it_authenticated(
    status: int, token: str | None, renewed: bool
):
    app = RenewSessionCookie(answering(status, token), Settings(session_ttl=60))
    sent = await call(app, http_scope(), body_of())
    cookies = sent.header("set-cookie")
    assert bool(cookies) == renewed
    if renewed:
        assert cookies[0].startswith(f"{COOKIE}=tok123;") and "Max-Age=60" in cookies[0]
