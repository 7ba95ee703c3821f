"""Sessions found a moment ago, so a client asking one question after another is not looked
up in the store for each (a worker-thread hop and a file or row read, ~0.3 ms of CPU): a
session found less than RECHECK_S ago, and not expired since, is taken as found.

A session deleted through this process is forgotten at once. One deleted through another
process (a replica, a worker) is refused here within RECHECK_S; until then its requests
find it empty, its data gone, and a write to it fails as on a session deleted mid-request.
The store still slides a session's expiry: it is asked again every RECHECK_S."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ragsvc.core.clock import now
from ragsvc.storage.records import SessionMeta

RECHECK_S = 1.0
MAX_SESSIONS = 10_000  # a few MB at most: one meta and a time each


class SessionMemo:
    """The sessions found in the last RECHECK_S, by token hash; used from the event loop."""

    def __init__(
        self,
        recheck_s: float = RECHECK_S,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recheck_s, self._max, self._clock = recheck_s, max_sessions, clock
        self._found: OrderedDict[str, tuple[SessionMeta, float]] = OrderedDict()

    def get(self, token_hash: str) -> SessionMeta | None:
        """The session if it was found less than RECHECK_S ago and has not expired."""
        entry = self._found.get(token_hash)
        if entry is None:
            return None
        meta, found_at = entry
        if self._clock() - found_at >= self._recheck_s or meta.expires_at <= now():
            del self._found[token_hash]
            return None
        return meta

    def put(self, meta: SessionMeta) -> None:
        """Remember a session the store just found (the oldest forgotten past MAX_SESSIONS)."""
        self._found.pop(meta.token_hash, None)
        self._found[meta.token_hash] = (meta, self._clock())
        while len(self._found) > self._max:
            self._found.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        self._found.pop(token_hash, None)
