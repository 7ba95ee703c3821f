"""Where sessions live: the Store protocol and the records it keeps. `disk_store.py` holds
the on-disk implementation, the embedded default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel

from ragsvc.core.clock import now
from ragsvc.core.schemas import Document, Turn
from ragsvc.search.index import SessionIndex
from ragsvc.storage.leases import Lease

T = TypeVar("T")


class Spooled(Protocol):
    """An upload's bytes put aside (on disk, not in memory) until its ingest runs."""

    def read(self) -> bytes:
        """Blocking: the bytes."""
        ...

    def remove(self) -> None:
        """Blocking: forget them."""
        ...


class SessionMeta(BaseModel):
    token_hash: str
    created_at: datetime
    expires_at: datetime
    touched_at: datetime

    @classmethod
    def new(cls, token_hash: str, ttl: timedelta) -> SessionMeta:
        """A session created now, expiring `ttl` from now."""
        at = now()
        return cls(token_hash=token_hash, created_at=at, expires_at=at + ttl, touched_at=at)


@dataclass
class SessionState:
    """Documents and index of one version of a session; treat as read-only once published."""

    documents: dict[str, Document] = field(default_factory=dict)
    index: SessionIndex | None = None

    @property
    def nbytes(self) -> int:
        """About how much memory the state holds."""
        return 1024 * len(self.documents) + (self.index.nbytes if self.index else 0)


@dataclass(frozen=True)
class Conversation:
    """What an answer starts from: the session's state and its last turns."""

    state: SessionState
    turns: list[Turn]


class Store(Protocol):
    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta: ...
    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None: ...
    async def delete_session(self, token_hash: str) -> None: ...
    async def load_state(self, token_hash: str) -> SessionState: ...
    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T: ...
    async def turns(self, token_hash: str, keep: int) -> list[Turn]: ...
    async def load_conversation(self, token_hash: str, keep: int) -> Conversation:
        """The state and the last `keep` turns, read in one trip to the store."""
        ...

    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None: ...
    async def purge_expired(self) -> int: ...
    async def health(self) -> str | None:
        """Why the store cannot take writes now (for /readyz), or None when it can."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds open (connections, threads)."""
        ...

    @property
    def cache_bytes(self) -> int:
        """Memory held by the sessions it keeps loaded."""
        ...

    def take_lease(self, token_hash: str, key: str) -> Lease: ...
    def take_over(self, token_hash: str, key: str) -> Lease | None:
        """Blocking: hold a lease handed over by another process (`Lease.hand_over`);
        None when it is gone."""
        ...

    def spool(self, token_hash: str, key: str, data: bytes) -> Spooled:
        """Blocking: put an upload aside until its background ingest runs."""
        ...

    def spooled(self, token_hash: str, key: str) -> Spooled:
        """The upload `spool` put aside under `key` (possibly by another process)."""
        ...

    async def leased(self, token_hash: str, key: str) -> bool: ...
