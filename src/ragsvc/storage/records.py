"""What the stores keep of a session: its record (expiry, sliding), its state (documents and
index, one version of them), and what an answer starts from (the state and the last turns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from ragsvc.core.clock import now
from ragsvc.core.schemas import Document, Turn
from ragsvc.search.index import SessionIndex


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
