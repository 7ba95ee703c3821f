"""Request budgets per key and scope, in memory: `check` spends one request and refuses past
the budget with Retry-After, and a budget of 0 is no limit."""

from __future__ import annotations

import pytest

from ragsvc.core.errors import RateLimited
from ragsvc.sessions.rate_limits import RateLimiter

pytestmark = pytest.mark.anyio


async def test_check_spends_the_budget_then_refuses_with_retry_after():
    limiter = RateLimiter()
    await limiter.check("asking", "alice", 2)
    await limiter.check("asking", "alice", 2)
    with pytest.raises(RateLimited, match="more than 2 requests a minute for asking") as refused:
        await limiter.check("asking", "alice", 2)
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await limiter.check("asking", "bob", 2)  # every key has a budget of its own
    await limiter.check("session creation", "alice", 2)  # and every scope


async def test_a_budget_of_zero_is_no_limit():
    limiter = RateLimiter()
    for _ in range(50):
        await limiter.check("asking", "alice", 0)
