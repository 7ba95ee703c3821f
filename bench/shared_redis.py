"""The Redis database a bench uses: the one RAGSVC_BENCH_REDIS_URL names, emptied before
and after, or else an empty one claimed as the tests claim theirs (other programs share the
server), emptied and let go after."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.services import (  # noqa: E402
    REDIS_SERVER,
    claim_redis_database,
    clear_redis_database,
)

REDIS_URL = os.environ.get("RAGSVC_BENCH_REDIS_URL")
NO_REDIS = f"no Redis answers at {REDIS_URL or REDIS_SERVER}, or none of its databases is free"


@contextmanager
def bench_redis() -> Iterator[str | None]:
    """An empty Redis database for the bench, emptied (and a claimed one let go) after;
    None where no Redis answers or none is free."""
    import redis

    try:
        url = REDIS_URL or claim_redis_database(f"bench-{os.getpid()}")
        if url is not None:
            clear_redis_database(url)  # a claimed one holds only the claim
    except redis.RedisError:
        url = None
    try:
        yield url
    finally:
        if url is not None:
            clear_redis_database(url, keep_claim=False)
