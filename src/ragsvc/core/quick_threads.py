"""The worker threads of a question's short blocking steps (session lookup, state and turns,
search, recording the turn), apart from anyio's default pool.

Under 200 concurrent answers the default pool ran up to 40 threads, and their fight for the
GIL cost more CPU than the steps themselves (server CPU per answer, `make load` saturation:
6.3 ms with 40 threads, 5.3 ms with two). Ingestion's long jobs stay in the default pool,
so they never hold these threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

T = TypeVar("T")
Args = TypeVarTuple("Args")
QUICK_THREADS = 2  # one per core of the machines measured; a slow disk read stalls one only
_LIMITER: RunVar[CapacityLimiter] = RunVar("ragsvc_quick_limiter")  # one per event loop


def quick_limiter() -> CapacityLimiter:
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = CapacityLimiter(QUICK_THREADS)
        _LIMITER.set(limiter)
        return limiter


async def run_quick(func: Callable[[*Args], T], *args: *Args) -> T:
    """`func(*args)` in one of the quick worker threads."""
    return await anyio.to_thread.run_sync(func, *args, limiter=quick_limiter())
