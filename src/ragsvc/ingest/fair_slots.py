"""Slots for background ingests, taken in turn by the sessions waiting for one.

A first-in first-out queue let one session's twenty uploads (or four hostile ones, each
holding the page workers for their whole time limit) hold back every other session's. Here
a freed slot goes to the next session in turn (round-robin), and no session holds more than
its share (all slots but one, when there are several), so another session's upload finds a
slot at once, whatever is queued before it.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


class FairSlots:
    def __init__(self, size: int) -> None:
        self.size = size
        self.share = max(1, size - 1)  # one slot kept for the other sessions
        self._held: Counter[str] = Counter()
        self._waiting: OrderedDict[str, deque[anyio.Event]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def slot(self, owner: str) -> AsyncIterator[None]:
        """Hold one slot for `owner` while the block runs; wait for it in turn."""
        await self._wait_turn(owner)
        try:
            yield
        finally:
            self._held[owner] -= 1
            if owner in self._waiting:  # served: the others first
                self._waiting.move_to_end(owner)
            self._hand_over()

    async def _wait_turn(self, owner: str) -> None:
        turn = anyio.Event()
        self._waiting.setdefault(owner, deque()).append(turn)
        self._hand_over()  # a slot may be free for it, even with others waiting
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():  # handed a slot just as it was cancelled: pass it on
                self._held[owner] -= 1
                self._hand_over()
            else:
                self._forget(owner, turn)
            raise

    def _may_take(self, owner: str) -> bool:
        return self._held.total() < self.size and self._held[owner] < self.share

    def _hand_over(self) -> None:
        """Give free slots to the waiting owners in turn, each going to the back after."""
        while self._waiting:
            owner = next((o for o in self._waiting if self._may_take(o)), None)
            if owner is None:
                return
            queue = self._waiting.pop(owner)
            queue.popleft().set()
            self._held[owner] += 1
            if queue:
                self._waiting[owner] = queue  # back of the line

    def _forget(self, owner: str, turn: anyio.Event) -> None:
        queue = self._waiting.get(owner)
        if queue is not None:
            queue.remove(turn)
            if not queue:
                del self._waiting[owner]
