"""Where sessions live, as small protocols, one per concern, so a use case names the pieces
it uses and a new store implements them one by one. `Store` is all of them, plus its health
and its resources: what `runtime/backends.py` builds (`disk/`, the embedded default, or
`postgres/`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import BinaryIO, Protocol, TypeVar

from ragsvc.core.schemas import Turn
from ragsvc.storage.leases import Lease
from ragsvc.storage.records import Conversation, SessionMeta, SessionState

T = TypeVar("T")


class SessionStore(Protocol):
    """Sessions: made, found (their expiry sliding with use), deleted, purged once expired."""

    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta: ...
    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        """The live session, its expiry slid forward; None when unknown or expired."""
        ...

    async def delete_session(self, token_hash: str) -> None: ...
    async def purge_expired(self) -> int:
        """Delete the expired sessions (and what interrupted writes left); how many."""
        ...


class StateStore(Protocol):
    """A session's documents and index: read as one version, changed atomically."""

    async def load_state(self, token_hash: str) -> SessionState: ...
    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        """Run `mutate` on a private copy of the latest state, then store it as the next
        version; concurrent updates of one session queue up."""
        ...

    @property
    def cache_bytes(self) -> int:
        """Memory held by the sessions it keeps loaded."""
        ...


class TurnStore(Protocol):
    """A session's conversation: its last turns, and what an answer starts from."""

    async def turns(self, token_hash: str, keep: int) -> list[Turn]: ...
    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None: ...
    def add_turn_blocking(self, token_hash: str, turn: Turn, keep: int) -> None:
        """`add_turn` for a caller in a worker thread already (`read_conversation`'s)."""
        ...

    async def read_conversation(
        self, token_hash: str, keep: int, then: Callable[[Conversation], T]
    ) -> T:
        """`then` of the state and the last `keep` turns, read in one trip to the store and
        run in the same worker thread (an answer's search with them: one thread hop)."""
        ...


class LeaseStore(Protocol):
    """Leases: "a live process is working on this" (a document being ingested)."""

    def take_lease(self, token_hash: str, key: str) -> Lease:
        """Blocking: claim `key` until released; BlockingIOError when a live holder has it."""
        ...

    def take_over(self, token_hash: str, key: str) -> Lease | None:
        """Blocking: hold a lease handed over by another process (`Lease.hand_over`);
        None when it is gone."""
        ...

    async def leased(self, token_hash: str, key: str) -> bool:
        """Whether any process holds the lease on `key` now."""
        ...


class Spooled(Protocol):
    """An upload's bytes put aside (on disk, not in memory) until its ingest runs."""

    def read(self) -> bytes:
        """Blocking: the bytes."""
        ...

    def remove(self) -> None:
        """Blocking: forget them."""
        ...

    def keep(self) -> None:
        """Blocking: keep them as their document's PDF (see `PdfStore`), no longer spooled."""
        ...


class UploadSpool(Protocol):
    """Uploads put aside until their background ingest runs, on this process or another."""

    def spool(self, token_hash: str, key: str, content: BinaryIO) -> Spooled:
        """Blocking: put an upload aside (read from `content`, a file at its start) until its
        background ingest runs."""
        ...

    def spooled(self, token_hash: str, key: str) -> Spooled:
        """The upload `spool` put aside under `key` (possibly by another process)."""
        ...


class PdfStore(Protocol):
    """The PDFs of a session's ingested documents, kept so their pages can be shown; they
    go with their document or session."""

    def keep_pdf(self, token_hash: str, document_id: str, content: BinaryIO) -> None:
        """Blocking: keep the PDF read from `content` (a file at its start)."""
        ...

    def read_pdf(self, token_hash: str, document_id: str) -> bytes | None:
        """Blocking: the document's PDF; None when it is not kept (ingested before PDFs were)."""
        ...

    def drop_pdf(self, token_hash: str, document_id: str) -> None:
        """Blocking: forget the document's PDF, if kept."""
        ...


class Store(SessionStore, StateStore, TurnStore, LeaseStore, UploadSpool, PdfStore, Protocol):
    """Every concern of the above, in one backend."""

    async def health(self) -> str | None:
        """Why the store cannot take writes now (for /readyz), or None when it can."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds open (connections, threads)."""
        ...
