"""Ingest slots taken in turn by sessions: a freed slot goes to the next session waiting,
not to the one that queued the most, and no session holds every slot."""

from __future__ import annotations

import anyio
import pytest

from ragsvc.ingest.fair_slots import FairSlots

pytestmark = pytest.mark.anyio


async def test_one_session_never_holds_every_slot():
    slots, order, done = FairSlots(2), [], anyio.Event()

    async def job(owner: str, tag: str) -> None:
        async with slots.slot(owner):
            order.append(tag)
            await done.wait()

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tasks:
            for tag in ("a0", "a1", "a2", "b3"):
                tasks.start_soon(job, tag[0], tag)
                await anyio.sleep(0.01)
            assert order == ["a0", "b3"]  # the second slot is not a's to take
            assert slots.waiting == 2
            done.set()
    assert sorted(order) == ["a0", "a1", "a2", "b3"]


async def test_freed_slots_go_to_the_sessions_in_turn():
    slots, order = FairSlots(1), []
    gates = {tag: anyio.Event() for tag in ("a0", "a1", "a2", "b3", "c4")}

    async def job(owner: str, tag: str) -> None:
        async with slots.slot(owner):
            order.append(tag)
            await gates[tag].wait()

    with anyio.fail_after(2):
        async with anyio.create_task_group() as tasks:
            for tag in gates:
                tasks.start_soon(job, tag[0], tag)
                await anyio.sleep(0.01)
            for _ in gates:
                await anyio.sleep(0.02)
                gates[order[-1]].set()
    assert order == ["a0", "b3", "c4", "a1", "a2"]
    assert slots.waiting == 0


async def test_a_cancelled_wait_gives_its_turn_away():
    slots, order = FairSlots(1), []
    with anyio.fail_after(2):
        async with slots.slot("a"):
            with anyio.move_on_after(0.05):
                async with slots.slot("b"):
                    order.append("b")
            assert slots.waiting == 0
        async with slots.slot("c"):
            order.append("c")
    assert order == ["c"]
