"""The PostgreSQL Store (`RAGSVC_STORE=postgres`): what replicas on several hosts share.

Tables (migrations/): sessions, documents, parts (a document's chunks, vectors and BM25
terms in one record; `chunks`, a row per chunk, in sessions written before), turns, uploads
waiting for their ingest, the PDFs of ingested documents, leases. A change to a session's
documents or index runs in one transaction holding the session's row lock (`SELECT ... FOR
NO KEY UPDATE`), so concurrent writers on any replica queue up and none loses another's
change; it writes only what changed (the parts of new documents) and bumps the session's
`generation`. Each replica keeps the sessions it loaded in a cache keyed by that
generation: an unchanged session is not read again, a changed one is read afresh by the
next request on any replica.

Blocking psycopg calls on a connection pool, made from worker threads like DiskStore's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO, TypeVar

import anyio
import psycopg
from psycopg_pool import ConnectionPool
from pydantic import TypeAdapter

from ragsvc.core.clock import now
from ragsvc.core.errors import DatabaseUnavailable, SessionGone
from ragsvc.core.quick_threads import run_quick
from ragsvc.core.schemas import Turn
from ragsvc.storage.leases import Lease
from ragsvc.storage.postgres.migrate import migrate
from ragsvc.storage.postgres.row_leases import LEASE_S, LeaseBook
from ragsvc.storage.postgres.state_rows import StateBefore, read_state, write_changes
from ragsvc.storage.records import Conversation, SessionMeta, SessionState
from ragsvc.storage.session_cache import SessionCache

T = TypeVar("T")
log = logging.getLogger(__name__)
_TOUCH_EVERY = timedelta(seconds=60)
_TURN = TypeAdapter(Turn)
POOL_SIZE = 16  # per process: the quick threads, ingests and answers share it
POOL_WAIT_S = 5.0
_GONE = "the session was deleted or has expired"
# A database host that vanishes without closing its connections (a network partition, a
# crashed VM) would leave a query waiting forever: libpq gives up on an unanswered connect
# after 5 s, and on a silent peer after about 20 s of TCP keepalives or unacknowledged data.
_LIBPQ_TIMEOUTS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
    "tcp_user_timeout": 20_000,
}


class PostgresStore:
    def __init__(self, conninfo: str, cache_mb: float = 512, lease_s: float = LEASE_S) -> None:
        migrate(conninfo)  # replicas starting together take turns; each file runs once
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_WAIT_S,
            # A connection the server closed (a restart, a failover) is replaced before use,
            # not handed to a request that would then fail: one round trip per checkout.
            check=ConnectionPool.check_connection,
            kwargs=_LIBPQ_TIMEOUTS,
            open=True,
        )
        self.leases = LeaseBook(self.pool, lease_s)
        self.cache = SessionCache(int(cache_mb * 2**20))

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; the database failing is a 503 for the client, not a bug."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:  # includes PoolTimeout
            raise DatabaseUnavailable(exc) from exc

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.leases.close)
        await anyio.to_thread.run_sync(self.pool.close)

    # sessions ---------------------------------------------------------------

    async def create_session(self, token_hash: str, ttl: timedelta) -> SessionMeta:
        meta = SessionMeta.new(token_hash, ttl)
        await anyio.to_thread.run_sync(self._create_session, meta)
        return meta

    def _create_session(self, meta: SessionMeta) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, created_at, expires_at, touched_at)"
                " VALUES (%s, %s, %s, %s)",
                (meta.token_hash, meta.created_at, meta.expires_at, meta.touched_at),
            )

    async def get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        """The live session, its expiry slid forward; None when unknown or expired."""
        return await run_quick(self._get_session, token_hash, ttl)

    def _get_session(self, token_hash: str, ttl: timedelta) -> SessionMeta | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT created_at, expires_at, touched_at FROM sessions WHERE token_hash = %s",
                (token_hash,),
            ).fetchone()
            if row is None:
                return None
            meta = SessionMeta(
                token_hash=token_hash, created_at=row[0], expires_at=row[1], touched_at=row[2]
            )
            at = now()
            if meta.expires_at <= at:
                self._delete(token_hash)
                return None
            if at - meta.touched_at >= _TOUCH_EVERY:  # sliding expiry, not a write per request
                meta = meta.model_copy(update={"expires_at": at + ttl, "touched_at": at})
                conn.execute(
                    "UPDATE sessions SET expires_at = %s, touched_at = %s WHERE token_hash = %s",
                    (meta.expires_at, meta.touched_at, token_hash),
                )
        return meta

    async def delete_session(self, token_hash: str) -> None:
        await anyio.to_thread.run_sync(self._delete, token_hash)

    def _delete(self, token_hash: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        self.cache.drop(token_hash)

    async def purge_expired(self) -> int:
        return await anyio.to_thread.run_sync(self._purge_expired)

    def _purge_expired(self) -> int:
        """Delete expired sessions, expired leases and the uploads no live lease covers (an
        ingest a crash interrupted); count the sessions deleted."""
        with self._conn() as conn:
            gone = conn.execute(
                "DELETE FROM sessions WHERE expires_at <= %s RETURNING token_hash", (now(),)
            ).fetchall()
            conn.execute("DELETE FROM leases WHERE expires_at <= now()")
            conn.execute(
                "DELETE FROM uploads u WHERE NOT EXISTS (SELECT 1 FROM leases l"
                " WHERE l.token_hash = u.token_hash AND l.key = u.document_id)"
            )
        for (token_hash,) in gone:
            self.cache.drop(token_hash)
        return len(gone)

    @property
    def cache_bytes(self) -> int:
        return self.cache.bytes

    async def health(self) -> str | None:
        """Why the store cannot take writes now, or None when it can."""
        try:
            with anyio.fail_after(1):
                await anyio.to_thread.run_sync(self._ping, abandon_on_cancel=True)
        except Exception as exc:
            return f"PostgreSQL (RAGSVC_DATABASE_URL) does not answer: {exc!r}"
        return None

    def _ping(self) -> None:
        with self.pool.connection(timeout=1) as conn:
            conn.execute("SELECT 1")

    # documents and index ----------------------------------------------------

    async def load_state(self, token_hash: str) -> SessionState:
        return await anyio.to_thread.run_sync(self._load_state, token_hash)

    def _load_state(self, token_hash: str) -> SessionState:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT generation FROM sessions WHERE token_hash = %s", (token_hash,)
            ).fetchone()
        if row is None:
            raise SessionGone(_GONE)
        return self._state_at(token_hash, row[0])

    def _state_at(self, token_hash: str, generation: int) -> SessionState:
        """The state, from the cache if it holds `generation`, else read afresh (then the
        newest, whatever generation that is)."""
        if (cached := self.cache.get(token_hash, str(generation))) is not None:
            return cached
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot
            row = conn.execute(
                "SELECT generation FROM sessions WHERE token_hash = %s", (token_hash,)
            ).fetchone()
            if row is None:
                raise SessionGone(_GONE)
            state = read_state(conn, token_hash)
        self.cache.put(token_hash, str(row[0]), state)
        return state

    async def update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        """Run `mutate` on a private copy of the latest state, then commit what it changed."""
        return await anyio.to_thread.run_sync(self._update, token_hash, mutate)

    def _update(self, token_hash: str, mutate: Callable[[SessionState], T]) -> T:
        with self._conn() as conn, conn.transaction():
            # NO KEY UPDATE: writers of the session queue up, while rows that merely refer
            # to it (a lease or an upload taken by `mutate` on another connection) go in.
            row = conn.execute(
                "SELECT generation FROM sessions WHERE token_hash = %s FOR NO KEY UPDATE",
                (token_hash,),
            ).fetchone()
            if row is None:
                raise SessionGone(_GONE)
            state = self._private_copy(conn, token_hash, row[0])
            before = StateBefore.of(state)
            result = mutate(state)
            write_changes(conn, token_hash, before, state)
        self.cache.put(token_hash, str(row[0] + 1), state)
        return result

    def _private_copy(
        self, conn: psycopg.Connection[Any], token_hash: str, generation: int
    ) -> SessionState:
        """The latest state, to change: a copy of the cached one when it is current."""
        if (cached := self.cache.get(token_hash, str(generation))) is not None:
            index = cached.index.copy() if cached.index is not None else None
            return SessionState(dict(cached.documents), index)
        return read_state(conn, token_hash)

    # leases and uploads waiting for their background ingest ---------------------

    def take_lease(self, token_hash: str, key: str) -> Lease:
        """Blocking: claim `key` until released; a lease also ends soon after its process."""
        return self.leases.take(token_hash, key)

    def take_over(self, token_hash: str, key: str) -> Lease | None:
        """Blocking: hold the lease another process handed over; None when it is gone."""
        return self.leases.take_over(token_hash, key)

    async def leased(self, token_hash: str, key: str) -> bool:
        """Whether any process holds the lease on `key` now."""

        def held() -> bool:
            with self._conn() as conn:
                return (
                    conn.execute(
                        "SELECT 1 FROM leases WHERE token_hash = %s AND key = %s"
                        " AND expires_at > now()",
                        (token_hash, key),
                    ).fetchone()
                    is not None
                )

        return await anyio.to_thread.run_sync(held)

    def spool(self, token_hash: str, key: str, content: BinaryIO) -> SpooledRow:
        """Blocking: keep the upload in `uploads` until its ingest runs (on any replica)."""
        data = content.read()  # a bytea parameter is sent whole; one upload at a time
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO uploads (token_hash, document_id, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (token_hash, document_id) DO UPDATE SET data = excluded.data",
                (token_hash, key, data),
            )
        return SpooledRow(self, token_hash, key)

    def spooled(self, token_hash: str, key: str) -> SpooledRow:
        return SpooledRow(self, token_hash, key)

    # the PDFs of ingested documents ---------------------------------------------

    def keep_pdf(self, token_hash: str, document_id: str, content: BinaryIO) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO pdfs (token_hash, document_id, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (token_hash, document_id) DO UPDATE SET data = excluded.data",
                (token_hash, document_id, content.read()),
            )

    def read_pdf(self, token_hash: str, document_id: str) -> bytes | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT data FROM pdfs WHERE token_hash = %s AND document_id = %s",
                (token_hash, document_id),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def drop_pdf(self, token_hash: str, document_id: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "DELETE FROM pdfs WHERE token_hash = %s AND document_id = %s",
                (token_hash, document_id),
            )

    # turns ------------------------------------------------------------------

    async def turns(self, token_hash: str, keep: int) -> list[Turn]:
        def read() -> list[Turn]:
            with self._conn() as conn:
                return _last_turns(conn, token_hash, keep)

        return await anyio.to_thread.run_sync(read)

    async def read_conversation(
        self, token_hash: str, keep: int, then: Callable[[Conversation], T]
    ) -> T:
        def load() -> T:
            with self._conn() as conn:  # the generation and the turns in one round trip
                row = conn.execute(
                    "SELECT generation, ARRAY(SELECT body FROM turns WHERE token_hash = %s"
                    " ORDER BY seq DESC LIMIT %s) FROM sessions WHERE token_hash = %s",
                    (token_hash, keep, token_hash),
                ).fetchone()
            if row is None:
                raise SessionGone(_GONE)
            turns = [_TURN.validate_json(body) for body in reversed(row[1])]
            return then(Conversation(self._state_at(token_hash, row[0]), turns))

        return await run_quick(load)

    async def add_turn(self, token_hash: str, turn: Turn, keep: int) -> None:
        await run_quick(self.add_turn_blocking, token_hash, turn, keep)

    def add_turn_blocking(self, token_hash: str, turn: Turn, keep: int) -> None:
        with self._conn() as conn, conn.transaction():
            # Nothing to keep when the session was deleted while the answer streamed.
            conn.execute(
                "INSERT INTO turns (token_hash, body) SELECT token_hash, %s FROM sessions"
                " WHERE token_hash = %s FOR KEY SHARE",
                (turn.model_dump_json().encode(), token_hash),
            )
            conn.execute(
                "DELETE FROM turns WHERE token_hash = %s AND seq <= (SELECT seq FROM turns"
                " WHERE token_hash = %s ORDER BY seq DESC OFFSET %s LIMIT 1)",
                (token_hash, token_hash, keep),
            )


@dataclass(frozen=True)
class SpooledRow:
    store: PostgresStore
    token_hash: str
    key: str

    def read(self) -> bytes:
        with self.store._conn() as conn:
            row = conn.execute(
                "SELECT data FROM uploads WHERE token_hash = %s AND document_id = %s",
                (self.token_hash, self.key),
            ).fetchone()
        if row is None:
            raise SessionGone(_GONE)  # removed with its session
        return bytes(row[0])

    def remove(self) -> None:
        with self.store._conn() as conn:
            conn.execute(
                "DELETE FROM uploads WHERE token_hash = %s AND document_id = %s",
                (self.token_hash, self.key),
            )

    def keep(self) -> None:
        """Move the row from `uploads` to `pdfs`, in one transaction, inside the database."""
        with self.store._conn() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO pdfs (token_hash, document_id, data) SELECT token_hash,"
                " document_id, data FROM uploads WHERE token_hash = %s AND document_id = %s"
                " ON CONFLICT (token_hash, document_id) DO UPDATE SET data = excluded.data",
                (self.token_hash, self.key),
            )
            conn.execute(
                "DELETE FROM uploads WHERE token_hash = %s AND document_id = %s",
                (self.token_hash, self.key),
            )


def _last_turns(conn: psycopg.Connection[Any], token_hash: str, keep: int) -> list[Turn]:
    rows = conn.execute(
        "SELECT body FROM turns WHERE token_hash = %s ORDER BY seq DESC LIMIT %s",
        (token_hash, keep),
    ).fetchall()
    return [_TURN.validate_json(body) for (body,) in reversed(rows)]
