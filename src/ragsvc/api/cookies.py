"""The session cookie, for browsers (EventSource cannot send headers): HttpOnly,
SameSite=Strict (RAGSVC_COOKIE_SAMESITE), Secure behind TLS, and a Max-Age that follows the
sliding session TTL. A page on another site whose request comes without it is told why
(CookieNotSent), rather than given a new session its browser would not keep either."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragsvc.core.config import Settings
from ragsvc.core.errors import CookieNotSent

COOKIE = "ragsvc_session"
REFRESH = "ragsvc_refresh_cookie"  # request.state key: a cookie session to renew


def set_session_cookie(
    response: Response, token: str, settings: Settings, connection: HTTPConnection
) -> None:
    """Set (or renew) the cookie; Secure when configured, when the client came by HTTPS (as
    a trusted proxy says, see RAGSVC_TRUSTED_PROXIES), and always with SameSite=None (which
    browsers refuse without Secure)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.session_ttl,
        httponly=True,
        samesite=settings.cookie_samesite,
        secure=_secure(settings) or connection.url.scheme == "https",
        path="/",
    )


BEARER_INSTEAD = (
    "create a session with POST /sessions and send its token as 'Authorization: Bearer <token>'"
)


def cookie_not_sent(connection: HTTPConnection, settings: Settings) -> CookieNotSent | None:
    """The refusal of a request from a page on another site (the browser's Sec-Fetch-Site)
    with neither a token nor the cookie: the browser withheld the cookie (SameSite, or
    third-party cookies blocked), so a session made now would be lost as well. None for
    any other request (same site, or not from a browser)."""
    if connection.headers.get("sec-fetch-site") != "cross-site":
        return None
    if settings.cookie_samesite != "none":
        why = (
            f"the browser does not send ragsvc's SameSite={settings.cookie_samesite} session "
            "cookie to a page on another site"
        )
        fix = f"{BEARER_INSTEAD} (or have the server set RAGSVC_COOKIE_SAMESITE=none, over HTTPS)"
    else:
        why = "the browser did not send the session cookie (it blocks third-party cookies)"
        fix = BEARER_INSTEAD
    return CookieNotSent(f"no session token came from this page on another site: {why}; {fix}")


def delete_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite=settings.cookie_samesite, secure=_secure(settings)
    )


def _secure(settings: Settings) -> bool:
    return settings.cookie_secure or settings.cookie_samesite == "none"


class RenewSessionCookie:
    """Every response to a request authenticated by the cookie renews it, so the browser
    keeps it exactly as long as the server keeps the session (TTL sliding with use)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def renewing(message: Message) -> None:
            token = scope.get("state", {}).get(REFRESH)
            if message["type"] == "http.response.start" and token and message["status"] < 400:
                renewal = Response()
                set_session_cookie(renewal, token, self.settings, HTTPConnection(scope))
                MutableHeaders(scope=message).append("set-cookie", renewal.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, renewing)
