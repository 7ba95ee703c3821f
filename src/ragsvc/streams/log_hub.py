"""Work whose events outlive any one connection: answers being generated, PDFs being ingested,
run by a hub that keeps their event logs.

The work runs in a background task owned by the app's lifespan and appends events to an
in-memory log; every SSE connection follows the log from a sequence number. So a client that
drops and reconnects with `Last-Event-ID` gets what it missed and then the rest, without the
work being done twice, and a slow reader never holds the work back.

With a grace period set, work that every follower has left is cancelled unless one comes
back in time (an answer nobody reads should not keep an LLM busy); without one, it runs to
its end (an ingest finishes even if nobody watches). Logs are kept for a window after they
end, then dropped. They live in this process; with copies in Redis (`redis_copies.py`), a
client resumes on any replica.

Work is admitted by reservation: each session may have a few pieces of work running (on
every replica together, with copies in Redis), and the process a bounded number in all;
past either bound a reservation is refused (429 for the session, 503 for the process).
Making room only ever drops logs that have finished: one session's work can never evict or
cancel another's.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Generic, Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup

from ragsvc.core.errors import Overloaded, ShuttingDown, TooMuchInProgress
from ragsvc.streams.event_log import EventLog, Located, Work

log = logging.getLogger(__name__)
E = TypeVar("E")


class LogCopies(Protocol[E]):
    """Where a hub copies its logs for other replicas (redis_copies.RedisLogCopies)."""

    def publish(self, entry: EventLog[E]) -> Awaitable[None]: ...
    async def copied(self, entry: EventLog[E]) -> None: ...
    async def keep_alive(self, running: Callable[[], Iterable[EventLog[E]]]) -> None: ...
    async def located(self, owner: str, key: str) -> tuple[bool, int] | None: ...
    async def followed_elsewhere(self, owner: str, key: str) -> bool: ...
    async def running(self, owner: str) -> int: ...
    def follow(self, owner: str, key: str, after: int) -> AsyncIterator[list[tuple[int, E]]]: ...


@dataclass(frozen=True)
class Limits:
    """How much work a hub runs at once: in all, and per session (owner)."""

    running: int
    running_per_owner: int
    kept: int = 2000  # logs kept, finished ones included (memory); at least `running`


class LogHub(Generic[E]):
    def __init__(
        self,
        window_s: float,
        grace_s: float | None,
        limits: Limits,
        observe: Callable[[E], None] | None = None,
        copies: LogCopies[E] | None = None,
    ) -> None:
        self._copies = copies
        self._window = window_s
        self._grace = grace_s
        self._limits = limits
        self._observe = observe
        self._logs: OrderedDict[str, EventLog[E]] = OrderedDict()
        self._running: Counter[str] = Counter()  # per owner
        self._reserved: Counter[str] = Counter()  # per owner
        self._tasks: TaskGroup | None = None
        self._closed = False  # draining: no new work

    @property
    def running(self) -> int:
        """Pieces of work running now (in all sessions)."""
        return self._running.total()

    async def run(self, tasks: TaskGroup) -> None:
        """Own the background tasks of this app's lifetime and drop expired logs."""
        self._tasks = tasks
        if self._copies is not None:
            tasks.start_soon(self._copies.keep_alive, self._logs.values)
        while True:
            await anyio.sleep(min(self._window, 5.0))
            self._drop_expired()

    @asynccontextmanager
    async def reserve(self, owner: str, count: int = 1) -> AsyncIterator[Reservation[E]]:
        """Room for `count` more pieces of `owner`'s work, held until the block ends (work
        started meanwhile counts as running); 429 or 503 problems when there is none. With
        copies in Redis, the session's work running on other replicas counts too."""
        if self._closed:
            raise ShuttingDown()
        limits = self._limits
        running = self._running[owner]
        if self._copies is not None:  # every replica's, this one's included once copied
            running = max(running, await self._copies.running(owner))
        if running + self._reserved[owner] + count > limits.running_per_owner:
            raise TooMuchInProgress(
                f"this session already has {limits.running_per_owner} pieces of work in "
                "progress; wait for one to finish"
            )
        if self._running.total() + self._reserved.total() + count > limits.running:
            raise Overloaded("the server is at its limit of work in progress; try again soon")
        self._reserved[owner] += count
        try:
            yield Reservation(self, owner)
        finally:
            self._reserved[owner] -= count
            self._reserved += Counter()  # drop owners at zero

    def start(self, key: str, owner: str, work: Work[E]) -> EventLog[E]:
        """Run `work` in the background; it appends its events to the returned log. Callers
        reserve room first (`reserve`); room is made by dropping finished logs only."""
        if self._tasks is None:
            raise RuntimeError("the hub is not running (no app lifespan?)")
        entry = self._new_log(key, owner)
        self._running[owner] += 1
        self._tasks.start_soon(self._run_work, entry, work)
        self._copy_soon(entry)
        return entry

    def keep(self, key: str, owner: str, events: list[E]) -> EventLog[E]:
        """A log of work already done (`events`, all of them), finished at once: no task
        to run, only its copy to Redis, where there is one."""
        if self._tasks is None:
            raise RuntimeError("the hub is not running (no app lifespan?)")
        entry = self._new_log(key, owner)
        entry.extend(events)
        entry.finish()
        self._copy_soon(entry)
        return entry

    def _new_log(self, key: str, owner: str) -> EventLog[E]:
        entry: EventLog[E] = EventLog(key, owner, self._observe)
        self._logs[key] = entry
        self._logs.move_to_end(key)
        self._drop_finished_beyond(max(self._limits.kept, self._limits.running))
        return entry

    def _copy_soon(self, entry: EventLog[E]) -> None:
        if self._copies is not None and self._tasks is not None:
            entry.flush = partial(self._copies.copied, entry)
            self._tasks.start_soon(self._copy, self._copies.publish(entry), entry.key)

    async def _copy(self, copying: Awaitable[None], key: str) -> None:
        try:
            await copying
        except Exception:  # the work and this replica's clients go on without the copy
            log.warning("could not copy the event log %s to Redis", key, exc_info=True)

    def close(self) -> None:
        """Take no new work (a reservation is refused with 503); running work goes on."""
        self._closed = True

    def stop_running(self, reason: Exception) -> int:
        """Cancel every piece of work still running, telling it `reason`; how many."""
        running = [entry for entry in self._logs.values() if not entry.finished]
        for entry in running:
            entry.stopped_by = reason
            entry.scope.cancel()
        return len(running)

    def find(self, key: str, owner: str) -> EventLog[E] | None:
        """The log, if it is still kept and belongs to this session."""
        entry = self._logs.get(key)
        return entry if entry is not None and entry.owner == owner else None

    async def locate(self, key: str, owner: str) -> Located[E] | None:
        """The log of `key` if this session has it kept here, or copied by another replica."""
        entry = self.find(key, owner)
        if entry is not None:
            return Located.here(entry)
        copied = await self._copies.located(owner, key) if self._copies is not None else None
        return None if copied is None else Located(key, owner, *copied)

    def follow_located(self, found: Located[E], after: int) -> AsyncIterator[list[tuple[int, E]]]:
        """`follow` for a located log, wherever it is kept."""
        if found.local is not None:
            return self.follow(found.local, after)
        assert self._copies is not None  # a log found elsewhere was found through them
        return self._copies.follow(found.owner, found.key, after)

    async def follow(self, entry: EventLog[E], after: int) -> AsyncIterator[list[tuple[int, E]]]:
        """The events after sequence number `after`, then the live ones until the end, in
        batches: whatever is there when the follower runs goes out in one write."""
        entry.followers += 1
        try:
            seq = after + 1
            while True:
                finished = entry.finished  # before reading: a finished log holds every event
                # taken before reading too, so what is logged meanwhile (while the batch is
                # sent, say) sets it; a finished log needs none
                changed = None if finished else entry.changed()
                if seq < len(entry.events):
                    batch = list(enumerate(entry.events[seq:], start=seq))
                    seq += len(batch)
                    yield batch
                if changed is None:
                    return
                await changed.wait()
        finally:
            entry.followers -= 1
            if entry.followers == 0 and not entry.finished and self._grace is not None:
                assert self._tasks is not None
                self._tasks.start_soon(self._cancel_if_abandoned, entry, self._grace)

    async def _run_work(self, entry: EventLog[E], work: Work[E]) -> None:
        try:
            with entry.scope:
                await work(entry)
        except Exception:
            log.exception("background work %s failed", entry.key)
        finally:
            entry.finish()
            self._running[entry.owner] -= 1
            self._running += Counter()  # drop owners at zero

    async def _cancel_if_abandoned(self, entry: EventLog[E], grace: float) -> None:
        await anyio.sleep(grace)
        while entry.followers == 0 and not entry.finished and await self._read_elsewhere(entry):
            await anyio.sleep(grace)
        if entry.followers == 0 and not entry.finished:
            log.info("%s abandoned by its clients; cancelling", entry.key)
            entry.scope.cancel()

    async def _read_elsewhere(self, entry: EventLog[E]) -> bool:
        if self._copies is None:
            return False
        try:
            return await self._copies.followed_elsewhere(entry.owner, entry.key)
        except Exception:  # Redis away: nobody can be reading the copy either
            return False

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key, entry in list(self._logs.items()):
            if entry.finished_at is not None and now - entry.finished_at > self._window:
                del self._logs[key]

    def _drop_finished_beyond(self, kept: int) -> None:
        """Drop the oldest finished logs while more than `kept` are kept; never running ones."""
        excess = len(self._logs) - kept
        if excess > 0:
            # Oldest first, stopping at `excess`: the oldest logs are mostly finished, so
            # this looks at a few, not at every kept log on every start (measured: a quarter
            # of the server's CPU under load when it did).
            finished = (key for key, entry in self._logs.items() if entry.finished)
            for key in list(islice(finished, excess)):
                del self._logs[key]


@dataclass
class Reservation(Generic[E]):
    """Room reserved in a hub for one session's work (see `LogHub.reserve`)."""

    hub: LogHub[E]
    owner: str

    def start(self, key: str, work: Work[E]) -> EventLog[E]:
        return self.hub.start(key, self.owner, work)

    def keep(self, key: str, events: list[E]) -> EventLog[E]:
        return self.hub.keep(key, self.owner, events)
