"""CPU of one thread hop: `core/quick_threads.run_quick` against `anyio.to_thread.run_sync`
with a limiter of the same two threads, as quick steps took before. A step that does
nothing, so the figure is the hop's own cost (both threads' CPU, read from the process).

Usage: python bench/hop_cpu.py [hops]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

from ragsvc.core.quick_threads import QUICK_THREADS, run_quick

Hop = Callable[[Callable[[], None]], Awaitable[None]]


def nothing() -> None:
    return None


async def us_per_hop(hop: Hop, hops: int) -> float:
    for _ in range(200):  # threads started, caches warm
        await hop(nothing)
    before = time.process_time()
    for _ in range(hops):
        await hop(nothing)
    return 1e6 * (time.process_time() - before) / hops


async def main(hops: int) -> None:
    limiter = anyio.CapacityLimiter(QUICK_THREADS)

    async def anyio_hop(step: Callable[[], None]) -> None:
        await anyio.to_thread.run_sync(step, limiter=limiter)

    for _ in range(2):  # in turn, twice: the machine's load weighs on both alike
        ours, theirs = await us_per_hop(run_quick, hops), await us_per_hop(anyio_hop, hops)
        print(f"CPU per thread hop: run_quick {ours:.0f} µs, anyio.to_thread {theirs:.0f} µs")


if __name__ == "__main__":
    anyio.run(
        main, int(sys.argv[1]) if len(sys.argv) > 1 else 5000, backend_options={"use_uvloop": True}
    )
