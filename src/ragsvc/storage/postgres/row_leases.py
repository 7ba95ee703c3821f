"""Leases ("a live process is working on this") as rows in PostgreSQL, for replicas on
several hosts, where an flock (storage/disk/file_leases.py) is not shared. A lease lasts
LEASE_S seconds of database time (a process may choose longer) unless its holder renews it:
one thread per process renews every lease the process holds, so a lease outlives its
process by that time at most."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
LEASE_S = 15.0


@dataclass
class RowLease:
    book: LeaseBook
    token_hash: str
    key: str

    def release(self) -> None:
        self.book.release(self)

    def hand_over(self, for_s: float) -> None:
        self.book.hand_over(self, for_s)


class LeaseBook:
    """The leases this process holds, and the thread renewing them."""

    def __init__(self, pool: ConnectionPool, lease_s: float = LEASE_S) -> None:
        self.pool, self.lease_s = pool, lease_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lock = threading.Lock()

    def take(self, token_hash: str, key: str) -> RowLease:
        """Blocking: claim `key`; BlockingIOError if a live holder has it."""
        with self.pool.connection() as conn:
            claimed = conn.execute(
                "INSERT INTO leases AS l (token_hash, key, holder, expires_at)"
                " VALUES (%s, %s, %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (token_hash, key) DO UPDATE"
                " SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE l.expires_at <= now() RETURNING 1",
                (token_hash, key, self.holder, self.lease_s),
            ).fetchone()
        if claimed is None:
            raise BlockingIOError(f"the lease {key} is held")
        self._start_renewing()
        return RowLease(self, token_hash, key)

    def take_over(self, token_hash: str, key: str) -> RowLease | None:
        """Blocking: hold `key` from now on, whoever held it (work handed to this process);
        None when the lease is gone (released, or expired)."""
        with self.pool.connection() as conn:
            held = conn.execute(
                "UPDATE leases SET holder = %s, expires_at = now() + make_interval(secs => %s)"
                " WHERE token_hash = %s AND key = %s AND expires_at > now() RETURNING 1",
                (self.holder, self.lease_s, token_hash, key),
            ).fetchone()
        if held is None:
            return None
        self._start_renewing()
        return RowLease(self, token_hash, key)

    def hand_over(self, lease: RowLease, for_s: float) -> None:
        """Blocking: keep the lease alive `for_s` seconds without this process, for a worker
        elsewhere to take it over (an ingest queued for `ragsvc worker`)."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE leases SET holder = %s, expires_at = now() + make_interval(secs => %s)"
                " WHERE token_hash = %s AND key = %s AND holder = %s",
                (f"queued:{uuid.uuid4().hex}", for_s, lease.token_hash, lease.key, self.holder),
            )

    def release(self, lease: RowLease) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM leases WHERE token_hash = %s AND key = %s AND holder = %s",
                (lease.token_hash, lease.key, self.holder),
            )

    def close(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)

    def _start_renewing(self) -> None:
        with self._lock:
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew, name="ragsvc-leases", daemon=True
                )
                self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.pool.connection() as conn:
                    conn.execute(
                        "UPDATE leases SET expires_at = now() + make_interval(secs => %s)"
                        " WHERE holder = %s",
                        (self.lease_s, self.holder),
                    )
            except psycopg.Error as exc:  # the database is away: its leases expire meanwhile
                log.warning("could not renew this process's leases: %s", exc)
