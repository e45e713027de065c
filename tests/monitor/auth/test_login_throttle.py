"""The login throttle's counts in the real Redis: windows, expiry, and Redis being down."""

from __future__ import annotations

import asyncio
import secrets

import redis.asyncio as aioredis

from monitor.auth.throttle import Limit, Limits, LoginThrottle
from tests.conftest import free_port

SHORT = Limits(Limit("address", 3, 1), Limit("user-at-address", 2, 1), Limit("user", 4, 1))


async def test_a_lock_lasts_its_window_and_then_lifts(redis_url: str) -> None:
    user, address = f"u-{secrets.token_hex(4)}", f"a-{secrets.token_hex(4)}"
    async with aioredis.from_url(redis_url) as redis:
        throttle = LoginThrottle(redis, SHORT)
        await throttle.record_failure(username=user, address=address)
        assert await throttle.retry_after_s(username=user, address=address) == 0
        await throttle.record_failure(username=user, address=address)
        assert await throttle.retry_after_s(username=user, address=address) == 1
        await asyncio.sleep(1.1)
        assert await throttle.retry_after_s(username=user, address=address) == 0
        # the count went with the lock: one more failure does not lock again
        await throttle.record_failure(username=user, address=address)
        assert await throttle.retry_after_s(username=user, address=address) == 0


async def test_without_redis_logins_go_on_unthrottled() -> None:
    """A Redis outage must not lock every duty officer out (docs/decisions/0006)."""
    async with aioredis.from_url(f"redis://127.0.0.1:{free_port()}") as nowhere:
        throttle = LoginThrottle(nowhere, SHORT)
        for _ in range(5):
            await throttle.record_failure(username="u", address="a")
        assert await throttle.retry_after_s(username="u", address="a") == 0
        await throttle.record_success(username="u", address="a")
