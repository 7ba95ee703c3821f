"""Dependency aliases: the application state, and token -> session (or 401), resolved once here.

Every dependency is `async def`: FastAPI runs a plain `def` one in the thread pool, a thread
hop per dependency per request for what is an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ragsvc.api.cookies import COOKIE, REFRESH, cookie_not_sent
from ragsvc.core.errors import Unauthorized
from ragsvc.runtime.app_state import AppState
from ragsvc.sessions.session_tokens import same_secret
from ragsvc.storage.records import SessionMeta

CurrentSession = SessionMeta  # the caller's session, its expiry slid forward


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ragsvc
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def presented_token(request: Request) -> str | None:
    """The bearer token from the Authorization header, else from the session cookie."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.cookies.get(COOKIE) or None


def renew_cookie_if_used(request: Request, token: str) -> None:
    """Ask RenewSessionCookie to renew the cookie, when it is what authenticated."""
    if request.headers.get("authorization") is None:
        setattr(request.state, REFRESH, token)


def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy forwarded."""
    return request.client.host if request.client else "unknown"


async def _resolve(request: Request, token: str, state: AppState) -> CurrentSession:
    """The session of `token`, or 401 (429 for an address that keeps guessing)."""
    meta = await state.sessions.resolve(token, client_address(request))
    renew_cookie_if_used(request, token)
    return meta


async def current_session(request: Request, state: StateDep) -> CurrentSession:
    token = presented_token(request)
    if token is None:
        refused = cookie_not_sent(request, state.settings)
        raise refused or Unauthorized("no session token: send 'Authorization: Bearer <token>'")
    return await _resolve(request, token, state)


async def optional_session(request: Request, state: StateDep) -> CurrentSession | None:
    """None when no token is presented (a new session is made); a presented but bad token
    is still a 401, and so is a page on another site whose cookie was withheld: its new
    session would be lost like the one before (POST /sessions creates one from there)."""
    token = presented_token(request)
    if token is None and (refused := cookie_not_sent(request, state.settings)) is not None:
        raise refused
    return None if token is None else await _resolve(request, token, state)


async def require_api_key(request: Request, state: StateDep) -> None:
    """Where RAGSVC_API_KEYS is set, creating a session takes one of those keys."""
    keys = state.settings.api_keys
    if not keys:
        return
    given = request.headers.get("x-api-key", "")
    if not any(same_secret(given, key.get_secret_value()) for key in keys):
        raise Unauthorized("creating a session needs a valid X-API-Key header")


SessionDep = Annotated[CurrentSession, Depends(current_session)]
OptionalSessionDep = Annotated[CurrentSession | None, Depends(optional_session)]
