"""Answers in flight: each generation writes to an event log that clients follow.

Generation runs in a background task, not in the HTTP response, so a client that drops and
reconnects with `Last-Event-ID` picks up where it left off without a second generation,
and a slow reader never holds the generator back. When the last follower leaves, the
generation is cancelled (closing the upstream LLM request) unless someone reconnects within
the grace period. Logs are kept for the resume window after they end, then dropped.
Logs live in this process: behind a load balancer, resuming needs sticky sessions.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from ragsvc.errors import AnswerAbandoned
from ragsvc.events import AnswerEvent, FailedEvent

log = logging.getLogger(__name__)


@dataclass
class AnswerLog:
    answer_id: str
    token_hash: str
    events: list[AnswerEvent] = field(default_factory=list)
    finished_at: float | None = None
    followers: int = 0
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def append(self, event: AnswerEvent) -> None:
        self.events.append(event)
        self._wake()

    def finish(self) -> None:
        self.finished_at = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class AnswerHub:
    def __init__(self, resume_window_s: float, grace_s: float, max_kept: int = 2000) -> None:
        self._window = resume_window_s
        self._grace = grace_s
        self._max_kept = max_kept
        self._logs: OrderedDict[str, AnswerLog] = OrderedDict()
        self._tasks: TaskGroup | None = None

    async def run(self, tasks: TaskGroup) -> None:
        """Own the background tasks of this app's lifetime and drop expired logs."""
        self._tasks = tasks
        while True:
            await anyio.sleep(min(self._window, 5.0))
            self._drop_expired()

    def start(
        self, answer_id: str, token_hash: str, events: AsyncIterator[AnswerEvent]
    ) -> AnswerLog:
        """Begin producing an answer's events in the background."""
        if self._tasks is None:
            raise RuntimeError("the answer hub is not running")
        entry = AnswerLog(answer_id, token_hash)
        self._logs[answer_id] = entry
        while len(self._logs) > self._max_kept:
            self._logs.popitem(last=False)[1].scope.cancel()
        self._tasks.start_soon(self._produce, entry, events)
        return entry

    def find(self, answer_id: str, token_hash: str) -> AnswerLog | None:
        """The answer, if it is still kept and belongs to this session."""
        entry = self._logs.get(answer_id)
        return entry if entry is not None and entry.token_hash == token_hash else None

    async def follow(self, entry: AnswerLog, after: int) -> AsyncIterator[tuple[int, AnswerEvent]]:
        """The events after sequence number `after`, then the live ones until the last."""
        entry.followers += 1
        try:
            seq = after + 1
            while True:
                changed = entry._changed  # taken before reading, so no append is missed
                while seq < len(entry.events):
                    yield seq, entry.events[seq]
                    seq += 1
                if entry.finished:
                    return
                await changed.wait()
        finally:
            entry.followers -= 1
            if entry.followers == 0 and not entry.finished and self._tasks is not None:
                self._tasks.start_soon(self._cancel_if_abandoned, entry)

    async def _produce(self, entry: AnswerLog, events: AsyncIterator[AnswerEvent]) -> None:
        with entry.scope:
            try:
                async for event in events:
                    entry.append(event)
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()  # type: ignore[attr-defined]
        if entry.scope.cancelled_caught:
            entry.append(FailedEvent(AnswerAbandoned().problem()))
        entry.finish()

    async def _cancel_if_abandoned(self, entry: AnswerLog) -> None:
        await anyio.sleep(self._grace)
        if entry.followers == 0 and not entry.finished:
            log.info("answer %s abandoned by its clients; cancelling", entry.answer_id)
            entry.scope.cancel()

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for answer_id, entry in list(self._logs.items()):
            if entry.finished_at is not None and now - entry.finished_at > self._window:
                del self._logs[answer_id]
