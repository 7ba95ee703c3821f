"""An event log: the events of one piece of work (an answer being generated, a PDF being
ingested) in order, kept in memory for every connection that follows it from a sequence
number. `log_hub.py` runs the work and keeps the logs; `redis_copies.py` copies them to
Redis for the other replicas."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

E = TypeVar("E")


@dataclass
class EventLog(Generic[E]):
    key: str
    owner: str  # token hash of the session the work belongs to
    observe: Callable[[E], None] | None = None  # told of every event (metrics)
    events: list[E] = field(default_factory=list)
    finished_at: float | None = None
    followers: int = 0
    stopped_by: Exception | None = None  # why the hub cancelled the work, if it did
    # Made when first needed: a log kept finished (an extractive answer's) needs neither,
    # and making them cost some 30 µs an answer on the event loop (anyio's backend lookup).
    _scope: anyio.CancelScope | None = None
    _changed: anyio.Event | None = None
    # Set by a hub that copies the log to Redis: waits for the copy to hold what is logged.
    flush: Callable[[], Awaitable[None]] | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def scope(self) -> anyio.CancelScope:
        """The scope its work runs in, which cancelling stops it."""
        if self._scope is None:
            self._scope = anyio.CancelScope()
        return self._scope

    def append(self, event: E) -> None:
        self.events.append(event)
        self._wake()
        if self.observe is not None:
            self.observe(event)

    def extend(self, events: list[E]) -> None:
        """Several events at once (work whose events were all known): followers woken once."""
        self.events.extend(events)
        self._wake()
        if self.observe is not None:
            for event in events:
                self.observe(event)

    def finish(self) -> None:
        self.finished_at = time.monotonic()
        self._wake()

    async def copied(self) -> None:
        """Wait until the log's copy for other replicas holds every event logged so far (at
        once where there is none): what the work does next is then never seen before them."""
        if self.flush is not None:
            await self.flush()

    def changed(self) -> anyio.Event:
        """An event set by the next append or finish. Made only when a follower is about
        to wait, not on every append: a token burst would otherwise build one per token."""
        if self._changed is None or self._changed.is_set():
            self._changed = anyio.Event()
        return self._changed

    def _wake(self) -> None:
        changed = self._changed  # None: nobody waited yet
        if changed is not None and not changed.is_set():  # a burst wakes followers once
            changed.set()


Work = Callable[[EventLog[E]], Awaitable[None]]


@dataclass(frozen=True)
class Located(Generic[E]):
    """A kept log: this process's own (`local`), or one whose copy another replica wrote."""

    key: str
    owner: str
    finished: bool
    last_seq: int  # -1 while it has no event
    local: EventLog[E] | None = None

    @classmethod
    def here(cls, entry: EventLog[E]) -> Located[E]:
        """A log this process keeps."""
        return cls(entry.key, entry.owner, entry.finished, len(entry.events) - 1, entry)
