"""Login throttle: failed logins counted in Redis, so every process and host keeps one count.

Three counts, each locking its subject for its window once it reaches its limit:
per client address (guessing across usernames), per username from one address (guessing one
password), and per username from all addresses together (guessing it from many addresses).
A username is locked where it was attacked first: someone who knows a duty officer's
username locks it only from their own address, unless they come from many (docs/decisions/0006).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from monitor.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# a hung Redis must not hang every login: past this the attempt goes unthrottled
REDIS_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Limit:
    """`failures` within `window_s` (from the first) lock the subject for `window_s`."""

    name: str
    failures: int
    window_s: int


@dataclass(frozen=True)
class Limits:
    address: Limit
    user_at_address: Limit
    user: Limit

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            Limit("address", s.login_address_failures, s.login_address_window_s),
            Limit("user-at-address", s.login_user_failures, s.login_user_window_s),
            Limit("user", s.login_user_all_addresses_failures, s.login_user_window_s),
        )


def login_key(kind: str, limit: Limit, parts: tuple[str, ...]) -> str:
    # hashed: a username of any length or content makes a short key and is not kept in Redis
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"login:{kind}:{limit.name}:{digest}"


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, limits: Limits) -> None:
        self.redis, self.limits = redis, limits

    def subjects(self, username: str, address: str) -> list[tuple[Limit, tuple[str, ...]]]:
        return [
            (self.limits.address, (address,)),
            (self.limits.user_at_address, (username, address)),
            (self.limits.user, (username,)),
        ]

    async def retry_after_s(self, *, username: str, address: str) -> int:
        """Seconds before this username may try from this address; 0: it may now."""
        pipe = self.redis.pipeline(transaction=False)
        for limit, parts in self.subjects(username, address):
            pipe.pttl(login_key("lock", limit, parts))
        ttls_ms: list[int] = await self.guarded(pipe.execute, [])
        return math.ceil(max([0, *ttls_ms]) / 1000)

    async def record_failure(self, *, username: str, address: str) -> None:
        subjects = self.subjects(username, address)
        pipe = self.redis.pipeline(transaction=True)
        for limit, parts in subjects:
            pipe.incr(login_key("count", limit, parts))
            pipe.expire(login_key("count", limit, parts), limit.window_s, nx=True)
        counts: list[Any] = await self.guarded(pipe.execute, [])
        locks = self.redis.pipeline(transaction=True)
        for (limit, parts), count in zip(subjects, counts[::2], strict=False):
            if count >= limit.failures:
                locks.set(login_key("lock", limit, parts), b"1", ex=limit.window_s)
                locks.delete(login_key("count", limit, parts))
        await self.guarded(locks.execute, [])

    async def record_success(self, *, username: str, address: str) -> None:
        """The username's failures are forgiven; the address's are not (one good account
        must not clear the way for guessing others from the same place)."""
        user_subjects = self.subjects(username, address)[1:]
        keys = [login_key("count", limit, parts) for limit, parts in user_subjects]
        await self.guarded(lambda: self.redis.delete(*keys), 0)

    async def guarded(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """Redis down or hung: logins go on unthrottled rather than locking every officer out
        of a 24x7 console; Argon2 still bounds the guessing rate per core."""
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                return await call()
        except (RedisError, TimeoutError) as exc:
            log.warning("login throttle unavailable, attempt not counted: %r", exc)
            return fallback
