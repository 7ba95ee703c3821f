"""Freed memory handed back to the system: malloc_trim is found on glibc, and runs. Garbage
collection is paused while a session loads, and runs again after, whatever happened."""

from __future__ import annotations

import gc
import platform

import pytest

from ragsvc.storage.memory import (
    _malloc_trim,
    collection_paused,
    malloc_arenas_per_core,
    release_freed_memory,
)


def test_freed_memory_is_released_without_error():
    blocks = [bytes(1000) for _ in range(10_000)]  # small blocks glibc would keep for reuse
    del blocks
    release_freed_memory()
    release_freed_memory()  # the function is looked up once and kept


def test_malloc_trim_is_found_where_glibc_has_it():
    if platform.libc_ver()[0] == "glibc":
        assert _malloc_trim() is not None
    assert _malloc_trim() is _malloc_trim()


def test_glibc_takes_the_arenas_setting():
    assert malloc_arenas_per_core() == (platform.libc_ver()[0] == "glibc")


def test_collection_is_paused_while_loading_and_resumed_after_even_on_failure():
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # a second load at once leaves resuming to the first
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(FileNotFoundError), collection_paused():
        raise FileNotFoundError
    assert gc.isenabled()
