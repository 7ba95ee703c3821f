"""Memory handed back to the system, garbage collection kept out of loads, and glibc's
allocator held to one arena per core. glibc keeps freed small blocks for reuse, so the
memory of a deleted session's index stays in the process's RSS until something else reuses
it; after sessions are dropped, `malloc_trim` returns it."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache


@contextmanager
def collection_paused() -> Iterator[None]:
    """Cyclic garbage collection paused while a session loads: its ~10^5 new objects (chunks,
    their term lists) would set off collections that each walk every one made so far; half
    the CPU of decoding a 50,000-chunk session (0.64 -> 0.33 s measured). A load makes no
    cycles, and the collector runs again once it is done, for the whole process."""
    if not gc.isenabled():  # paused already, by a load in another thread: that one resumes it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def release_freed_memory() -> None:
    """Give freed memory back to the system (glibc only). No garbage collection first: a
    session's state is freed by reference counting, and a full collection would pause the
    event loop."""
    if (trim := _malloc_trim()) is not None:
        trim(0)


def malloc_arenas_per_core() -> bool:
    """Hold glibc's allocator to one arena per usable core, before the worker threads start;
    whether it took the setting (False where the C library is not glibc)."""
    # Its default, up to 8 arenas per core, gave each thread that loads a session memory of
    # its own, handed back and faulted in afresh at the next load: a 50,000-chunk PostgreSQL
    # load spent more time in the kernel zeroing pages than reading (growth_bench: 2.1 s;
    # 1.0 s with one arena per core). One arena in all loaded as fast, but the tokenizer's
    # threads then queued for it: a paper's chunks took 11 ms to embed instead of 7.
    mallopt = _libc("mallopt")
    return mallopt is not None and mallopt(M_ARENA_MAX, len(os.sched_getaffinity(0))) == 1


M_ARENA_MAX = -8  # glibc's malloc.h


def _malloc_trim() -> Callable[[int], int] | None:
    return _libc("malloc_trim")


@cache
def _libc(function: str) -> Callable[..., int] | None:
    """A glibc allocator function, or None where there is none (musl has neither)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        found: Callable[..., int] = getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):
        return None
    return found
