"""The services some tests need (Redis, PostgreSQL, a browser, Tesseract, Docker): a test
whose means are missing here skips, saying why; in CI (`CI` set) it fails instead."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str, hint: str = "") -> NoReturn:
    """Skip a test whose means are missing here; in CI (`CI` set) fail it instead: CI must
    really run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run this test")
    pytest.skip(f"{reason}{f' ({hint})' if hint else ''}")


REDIS_SERVER = os.environ.get("RAGSVC_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
# Other programs use the same Redis: a run claims a database of its own, one that is empty,
# with this key (which nothing of ragsvc's reads), and clears only that database.
REDIS_CLAIM = "ragsvc-tests:claimed-by"
REDIS_CLAIM_S = 6 * 3600  # a run killed before it let go does not hold a database forever


TEST_POSTGRES = os.environ.get("RAGSVC_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test")


def claim_redis_database(run: str) -> str | None:
    """The URL of an empty Redis database (15 down to 1) now claimed for this run; None
    when every one holds keys. Raises `redis.RedisError` when no Redis answers."""
    import redis

    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{number}", socket_connect_timeout=1)
        try:
            if client.set(REDIS_CLAIM, run, nx=True, ex=REDIS_CLAIM_S):
                if client.dbsize() == 1:  # nothing but the claim: nobody else's
                    return f"{REDIS_SERVER}/{number}"
                client.delete(REDIS_CLAIM)  # another program keeps its keys here
        finally:
            client.close()
    return None


def clear_redis_database(url: str, *, keep_claim: bool = True) -> None:
    """Delete the keys of a database this run claimed (all but the claim, unless told)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        for key in client.scan_iter(count=1000):
            if not keep_claim or key != REDIS_CLAIM.encode():
                client.unlink(key)
    finally:
        client.close()
