"""Event logs shared by replicas through Redis Streams (RAGSVC_REDIS_URL).

The replica doing the work keeps its log in memory, as without Redis, and copies each new
batch of events to a stream as one entry (a burst of tokens is one XADD, not one each); a
client that resumes (`Last-Event-ID`) on another replica reads that stream. A batch's entry
id is `0-<last seq + 1>`, so reading after an event id returns the batches holding the
events after it, and the reader drops those of the first batch it already had. The last
batch says that it ends the log (`e`), or a bare `end` entry does. Entries of one event
each (`n`, `d`: the format before batches) are still read, so a replica resumes a log
copied by one of the previous version during a rolling update; a replica of the previous
version cannot read a batch, and its resume fails with an error rather than misreading
it (a batch has neither of its fields). While the work runs, its replica
refreshes an `alive` key every second: a reader that sees no new entry and no `alive` key
knows the replica died, and ends its stream with a 503 `generation-lost` event instead of
waiting for ever or starting the work again. Readers refresh a `followed` key, so the
replica does not cancel an answer as abandoned while it is read elsewhere. Work whose next
step other replicas see (an ingest about to settle its document in the store) first waits
until the copy holds its events so far (`copied`).

Keys are `ragsvc:{<session token hash>}:<kind>:<id>[:alive|:followed]`: the hash tag keeps
a session's keys in one Redis Cluster slot, and a session can only find its own logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from ragsvc.core.errors import SharedStateUnavailable, WorkLost, redis_errors_as_503
from ragsvc.streams.event_codec import Event, decode_event, decode_events, encode_events
from ragsvc.streams.event_log import EventLog
from ragsvc.streams.events import FailedEvent

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)
ALIVE_EVERY_S = 1.0  # how often a working replica says it is alive
ALIVE_FOR_S = 3  # how long that lasts: a replica silent this long is taken for dead
# Well under a client's reconnection delay (RAGSVC_SSE_RETRY_MS, 1 s): a resume on another
# replica finds the copy made.
COPY_AFTER_S = 0.05
FLUSH_WAIT_S = 5.0  # the most `copied` waits: with Redis away, the work goes on uncopied
READ_BLOCK_MS = 1000  # a reader's wait for new entries before it checks the replica
END = b"end"  # a bare entry ending a log
BATCH, ENDS = b"b", b"e"  # a batch's events (encode_events); set when it ends the log


class RedisLogCopies(Generic[E]):
    """The copies of one hub's logs (`kind`: answer or ingest) in Redis."""

    def __init__(self, redis: Redis, kind: str, window_s: float) -> None:
        self._redis = redis
        self._kind = kind
        self._window = max(1, int(window_s))
        self._marked: set[tuple[str, str]] = set()  # (owner, key) marked running here
        self._copying: dict[int, _Copying] = {}  # by id of the log, while its copy runs

    def _key(self, owner: str, key: str) -> str:
        return f"ragsvc:{{{owner}}}:{self._kind}:{key}"

    def _running_key(self, owner: str) -> str:
        """A sorted set: the session's logs still running, scored by when their replica
        last said so, plus ALIVE_FOR_S (a dead replica's logs age out)."""
        return f"ragsvc:{{{owner}}}:{self._kind}s-running"

    async def running(self, owner: str) -> int:
        """How many of the session's logs run now, on any replica."""
        with redis_errors_as_503():
            return int(await self._redis.zcount(self._running_key(owner), time.time(), "+inf"))

    def publish(self, entry: EventLog[E]) -> Coroutine[Any, Any, None]:
        """Copy the log's events to its stream as they come, then its end (the coroutine
        returned does; `copied` knows of the copy from now on). The first copy waits
        COPY_AFTER_S for the log to end: a quick answer is then one entry and one round
        trip, not the marks of a running log set and cleared again."""
        copying = self._copying[id(entry)] = _Copying()
        return self._publish(entry, copying)

    async def _publish(self, entry: EventLog[E], copying: _Copying) -> None:
        try:
            with anyio.move_on_after(COPY_AFTER_S) as copying.first_wait:
                while not entry.finished and not copying.hurried:
                    await entry.changed().wait()
            while True:
                changed = entry.changed()  # taken before reading, so no append is missed
                events, finished = entry.events[copying.sent :], entry.finished
                if events or finished:
                    await self._append(entry.owner, entry.key, copying.sent, events, finished)
                    copying.advance(len(events))
                if finished:
                    return
                await changed.wait()
        finally:
            self._marked.discard((entry.owner, entry.key))
            self._copying.pop(id(entry), None)
            copying.end()

    async def copied(self, entry: EventLog[E]) -> None:
        """Wait until the log's stream holds every event logged so far (at once where it is
        not being copied), so that what its work does next, such as a store write another
        replica reads, is never seen there before them."""
        copying = self._copying.get(id(entry))
        if copying is None:
            return
        wanted = len(entry.events)
        copying.hurry()
        with anyio.move_on_after(FLUSH_WAIT_S):
            while copying.sent < wanted and not copying.over:
                await copying.moved().wait()

    async def _append(self, owner: str, key: str, first: int, events: list[E], end: bool) -> None:
        stream = self._key(owner, key)
        pipe = self._redis.pipeline(transaction=False)
        _add_entry(pipe, stream, first, events, end)
        if end and (owner, key) in self._marked:
            pipe.delete(f"{stream}:alive")
            pipe.zrem(self._running_key(owner), key)
        elif first == 0 and not end:  # alive and counted as running from its first copy on
            self._marked.add((owner, key))
            pipe.set(f"{stream}:alive", b"1", ex=ALIVE_FOR_S)
            pipe.zadd(self._running_key(owner), {key: time.time() + ALIVE_FOR_S})
        if first == 0 or end:  # while it runs, keep_alive extends it; ended, the window
            pipe.expire(stream, self._window)
        await pipe.execute()

    async def keep_alive(self, running: Callable[[], Iterable[EventLog[E]]]) -> None:
        """Say every second that this replica still works on its running logs (those
        copied already: a log that ends before its first copy is never marked running)."""
        while True:
            marked = self._marked
            entries = [e for e in running() if not e.finished and (e.owner, e.key) in marked]
            if entries:
                pipe = self._redis.pipeline(transaction=False)
                for entry in entries:
                    stream = self._key(entry.owner, entry.key)
                    pipe.set(f"{stream}:alive", b"1", ex=ALIVE_FOR_S)
                    pipe.expire(stream, self._window)
                    in_progress = self._running_key(entry.owner)
                    pipe.zadd(in_progress, {entry.key: time.time() + ALIVE_FOR_S})
                    pipe.expire(in_progress, self._window)
                try:
                    await pipe.execute()
                except Exception:  # Redis away for a moment: readers may call the work lost
                    log.warning("could not refresh the shared event logs", exc_info=True)
            await anyio.sleep(ALIVE_EVERY_S)

    async def located(self, owner: str, key: str) -> tuple[bool, int] | None:
        """(ended, last sequence number) of the log of `key`, if `owner`'s session has it."""
        with redis_errors_as_503():
            last: Any = await self._redis.xrevrange(self._key(owner, key), count=1)
        if not last:
            return None
        entry_id, fields = last[0]
        seq = _seq(entry_id)  # a batch's last event; a bare end's is the one before it
        return (True, seq - 1) if END in fields else (ENDS in fields, seq)

    async def followed_elsewhere(self, owner: str, key: str) -> bool:
        """Whether a reader on any replica follows the log now."""
        return bool(await self._redis.exists(f"{self._key(owner, key)}:followed"))

    async def follow(self, owner: str, key: str, after: int) -> AsyncIterator[list[tuple[int, E]]]:
        """The events after sequence number `after` until the end; a `generation-lost`
        error event if the replica doing the work stops saying it is alive, a 503 one if
        Redis fails."""
        last = after
        try:
            with redis_errors_as_503():
                async for batch in self._read(owner, key, after):
                    last = batch[-1][0]
                    yield batch
        except SharedStateUnavailable as exc:
            yield [(last + 1, cast(E, FailedEvent(exc.problem())))]

    async def _read(self, owner: str, key: str, after: int) -> AsyncIterator[list[tuple[int, E]]]:
        stream, last = self._key(owner, key), after
        # First from the entry holding event `after` itself: a batch ending there may be
        # the one that ends the log, and only its entry says so.
        cursor = f"0-{max(after, 0)}"
        while True:
            await self._redis.set(f"{stream}:followed", b"1", ex=ALIVE_FOR_S)
            reply: Any = await self._redis.xread({stream: cursor}, block=READ_BLOCK_MS)
            batch, ended = _entries(reply, last)
            if batch:
                last = batch[-1][0]
                yield cast(list[tuple[int, E]], batch)  # this hub's own kind of events
            cursor = f"0-{last + 1}"
            if ended:
                return
            if not batch and await self._lost(owner, key):
                yield [(last + 1, cast(E, FailedEvent(WorkLost().problem())))]
                return

    async def _lost(self, owner: str, key: str) -> bool:
        """No replica says it works on the log, and the log has not ended (it may have
        ended between a read and this check: then the next read gets the rest)."""
        stream = self._key(owner, key)
        if await self._redis.exists(f"{stream}:alive"):
            return False
        found = await self.located(owner, key)
        return found is None or not found[0]


@dataclass
class _Copying:
    """A log's copy while it is made: how many of its events it holds; `copied` cuts the
    first copy's wait short."""

    sent: int = 0
    hurried: bool = False
    over: bool = False
    first_wait: anyio.CancelScope | None = None
    _moved: anyio.Event | None = None

    def hurry(self) -> None:
        self.hurried = True
        if self.first_wait is not None:
            self.first_wait.cancel()

    def moved(self) -> anyio.Event:
        if self._moved is None or self._moved.is_set():
            self._moved = anyio.Event()
        return self._moved

    def advance(self, count: int) -> None:
        self.sent += count
        if self._moved is not None:
            self._moved.set()

    def end(self) -> None:
        self.over = True
        self.advance(0)


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[2]) - 1


def _add_entry(pipe: Pipeline, stream: str, first: int, events: list[E], end: bool) -> None:
    """One entry for the batch of events numbered from `first`, saying whether it ends the
    log; a bare end entry when it ends with no new event."""
    after = first + len(events)  # the entry id after the batch's: a bare end's
    if events:
        fields: dict[FieldT, EncodableT] = {BATCH: encode_events(events)}
        if end:
            fields[ENDS] = b"1"
        pipe.xadd(stream, fields, id=f"0-{after}")
    elif end:
        pipe.xadd(stream, {END: b"1"}, id=f"0-{after + 1}")


def _entries(reply: Any, after: int) -> tuple[list[tuple[int, Event]], bool]:
    """XREAD's reply as numbered events after `after`, and whether the log ended there."""
    batch: list[tuple[int, Event]] = []
    for _stream, entries in reply or []:
        for entry_id, fields in entries:
            if END in fields:
                return batch, True
            batch += _numbered(_seq(entry_id), fields, after)
            if ENDS in fields:
                return batch, True
    return batch, False


def _numbered(last: int, fields: dict[bytes, bytes], after: int) -> list[tuple[int, Event]]:
    """An entry's events after `after`, numbered: a batch ending at `last`, or the one event
    of an entry copied before batches."""
    if BATCH not in fields:
        one = (last, decode_event(fields[b"n"].decode(), fields[b"d"].decode()))
        return [one] if last > after else []
    events = decode_events(fields[BATCH].decode())
    numbered = enumerate(events, start=last - len(events) + 1)
    return [(seq, event) for seq, event in numbered if seq > after]
