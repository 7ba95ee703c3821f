"""Loaded session states kept in memory, so an unchanged session is not read again on every
question: keyed by session and version (the disk store's snapshot, the PostgreSQL store's
generation counter), the least recently used dropped past a budget of bytes (one session's
index can weigh tens of megabytes, so a count would bound nothing)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ragsvc.storage.records import SessionState


class SessionCache:
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, SessionState, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # used from worker threads

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, token_hash: str, version: str) -> SessionState | None:
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(token_hash)
            return entry[1]

    def put(self, token_hash: str, version: str, state: SessionState) -> None:
        """Keep `state`, dropping the least recently used ones past the budget (never the
        one just kept: a session larger than the budget is still served)."""
        size = state.nbytes
        with self._lock:
            self._forget(token_hash)
            self._entries[token_hash] = (version, state, size)
            self._bytes += size
            while self._bytes > self._max_bytes and len(self._entries) > 1:
                self._forget(next(iter(self._entries)))

    def drop(self, token_hash: str) -> None:
        with self._lock:
            self._forget(token_hash)

    def _forget(self, token_hash: str) -> None:
        entry = self._entries.pop(token_hash, None)
        if entry is not None:
            self._bytes -= entry[2]
