"""Use case: a session's life. It is made for a client (a few a minute per address), found
again from its token (an address that keeps presenting unknown tokens is slowed down, so
tokens cannot be guessed at speed), read for its conversation, and deleted with all its data.
The server keeps only each token's hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ragsvc.core.errors import Unauthorized
from ragsvc.core.schemas import Turn
from ragsvc.sessions.rate_limits import RateLimiter
from ragsvc.sessions.session_memo import SessionMemo
from ragsvc.sessions.session_tokens import hash_token, new_token, same_secret
from ragsvc.storage.protocols import SessionStore, TurnStore
from ragsvc.storage.records import SessionMeta

UNKNOWN_TOKENS = "unknown session tokens"  # the rate limit's scope
CREATION = "session creation"


class SessionRecords(SessionStore, TurnStore, Protocol):
    """What the sessions use case reads and writes of a store."""


@dataclass(frozen=True)
class SessionOptions:
    """The settings sessions read, under their names in `Settings` (which holds the
    defaults): RAGSVC_SESSION_TTL, _SESSION_RATE_PER_MINUTE, _FAILED_AUTH_PER_MINUTE,
    _HISTORY_TURNS."""

    session_ttl: int
    session_rate_per_minute: int
    failed_auth_per_minute: int
    history_turns: int

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.session_ttl)


@dataclass(frozen=True)
class NewSession:
    """A session just made: its token (shown to the client this once) and its record."""

    token: str
    meta: SessionMeta


@dataclass(frozen=True)
class Sessions:
    store: SessionRecords
    limiter: RateLimiter
    options: SessionOptions
    memo: SessionMemo = field(default_factory=SessionMemo)  # found a moment ago

    async def create(self, client: str) -> NewSession:
        """A new session for the client at address `client`; 429 past its budget."""
        per_minute = self.options.session_rate_per_minute
        await self.limiter.check(CREATION, client, per_minute)
        token = new_token()
        meta = await self.store.create_session(hash_token(token), self.options.ttl)
        return NewSession(token, meta)

    async def resolve(self, token: str, client: str) -> SessionMeta:
        """The live session of `token` (its expiry slid forward), or 401. An address that
        keeps presenting unknown tokens gets 429 for them (RAGSVC_FAILED_AUTH_PER_MINUTE);
        a valid token is never refused for it: everyone behind one NAT or proxy shares an
        address, and only the guessing should be throttled."""
        token_hash = hash_token(token)
        if (meta := self.memo.get(token_hash)) is not None:
            return meta
        meta = await self.store.get_session(token_hash, self.options.ttl)
        if meta is None or not same_secret(meta.token_hash, token_hash):
            per_minute = self.options.failed_auth_per_minute
            await self.limiter.check(UNKNOWN_TOKENS, client, per_minute)
            raise Unauthorized("unknown or expired session token; create one with POST /sessions")
        self.memo.put(meta)
        return meta

    async def turns(self, token_hash: str) -> list[Turn]:
        """The conversation the session keeps (and answers follow-ups with), oldest first."""
        return await self.store.turns(token_hash, self.options.history_turns)

    async def delete(self, token_hash: str) -> None:
        """The session and everything in it."""
        self.memo.forget(token_hash)
        await self.store.delete_session(token_hash)
