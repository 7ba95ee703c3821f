"""Memory handed back to the system. glibc keeps freed small blocks for reuse, so the memory
of a deleted session's index stays in the process's RSS until something else reuses it;
after sessions are dropped, `malloc_trim` returns it."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


def release_freed_memory() -> None:
    """Give freed memory back to the system (glibc only). No garbage collection first: a
    session's state is freed by reference counting, and a full collection would pause the
    event loop."""
    if (trim := _malloc_trim()) is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc: musl has no malloc_trim
        return None
    return trim
