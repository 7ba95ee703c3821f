"""Freed memory handed back to the system: malloc_trim is found on glibc, and runs."""

from __future__ import annotations

import platform

from ragsvc.storage.memory import _malloc_trim, release_freed_memory


def test_freed_memory_is_released_without_error():
    blocks = [bytes(1000) for _ in range(10_000)]  # small blocks glibc would keep for reuse
    del blocks
    release_freed_memory()
    release_freed_memory()  # the function is looked up once and kept


def test_malloc_trim_is_found_where_glibc_has_it():
    if platform.libc_ver()[0] == "glibc":
        assert _malloc_trim() is not None
    assert _malloc_trim() is _malloc_trim()
