"""Request budgets per session (asking) and per client address (creating sessions): in this
process, or in Redis (RAGSVC_REDIS_URL), where every replica spends from the same budgets."""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from ragsvc.core.errors import RateLimited, redis_errors_as_503


class RateLimiter:
    def __init__(self, redis: Redis | None = None) -> None:
        storage: Storage = MemoryStorage()
        if redis is not None:  # its connections, closed with it
            pool: Any = {"connection_pool": redis.connection_pool}  # typed as str by limits
            storage = RedisStorage("async+redis://", implementation="redispy", **pool)
        self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, scope: str, key: str, per_minute: int) -> None:
        """Spend one request of `key`'s budget, or raise 429 with Retry-After."""
        if per_minute <= 0:
            return
        item = RateLimitItemPerMinute(per_minute)
        with redis_errors_as_503():
            if not await self._limiter.hit(item, scope, key):
                await self._refuse(item, scope, key)

    async def _refuse(self, item: RateLimitItemPerMinute, scope: str, key: str) -> None:
        stats = await self._limiter.get_window_stats(item, scope, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"more than {item.amount} requests a minute for {scope}", retry_after=retry_after
        )
