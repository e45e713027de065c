"""Ingest's device and order caches against the real database: the change feed makes a
revocation, a rotated token and a new order take effect at once, however long entries live."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ingest.credentials import hash_token
from ingest.engine import IngestConfig, Ingestor
from ingest.errors import DeviceAuthError
from monitor.registry.enrol import enrol_person
from pings.streams import connect
from tests.registry_rows import person_in_new_city


def config(device_cache_s: float) -> IngestConfig:
    return IngestConfig(
        partitions=4,
        stream_maxlen=1000,
        clock_skew_s=300,
        retention_days=180,
        max_pings_per_request=100,
        max_inflight_requests=10,
        retry_after_s=1,
        max_body_bytes=10_000,
        device_cache_s=device_cache_s,
        feed_interval_s=0.05,
    )


@contextlib.asynccontextmanager
async def feeding(ingestor: Ingestor) -> AsyncIterator[None]:
    task = asyncio.create_task(ingestor.watch_changes())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def enrolled(pool: asyncpg.Pool) -> tuple[str, str, int]:
    """(device id, token, person id) of a new phone user with a 30-day order."""
    async with pool.acquire() as conn:
        _, city_id = await person_in_new_city(conn, "cache")
        fence_id = await conn.fetchval("SELECT id FROM fences ORDER BY id DESC LIMIT 1")
        made = await enrol_person(
            conn,
            case_number=f"cache-{time.monotonic_ns()}",
            supervision_level="normal",
            allowed_fence_ids=[fence_id],
            jurisdiction_id=city_id,
            device_id=f"cache-{time.monotonic_ns()}",
        )
    return made.device_id, made.token, made.person_id


@pytest.fixture
async def ingestor(pool: asyncpg.Pool, redis_url: str) -> AsyncIterator[Ingestor]:
    redis = connect(redis_url)
    yield Ingestor(pool, redis, config(device_cache_s=3600.0))  # entries would live an hour
    await redis.aclose()


async def refused(ingestor: Ingestor, token: str) -> bool:
    try:
        await ingestor.device_for_token(token, hash_token(token))
    except DeviceAuthError:
        return True
    return False


async def test_a_revoked_device_is_refused_at_once(ingestor: Ingestor, pool: asyncpg.Pool) -> None:
    device_id, token, _ = await enrolled(pool)
    async with feeding(ingestor):
        assert not await refused(ingestor, token)  # cached now, for an hour without the feed
        async with pool.acquire() as conn:
            await conn.execute("UPDATE devices SET revoked_at = now() WHERE id = $1", device_id)
        assert await eventually(lambda: refused(ingestor, token))


async def test_a_rotated_token_is_refused_at_once(ingestor: Ingestor, pool: asyncpg.Pool) -> None:
    device_id, token, _ = await enrolled(pool)
    async with feeding(ingestor):
        assert not await refused(ingestor, token)
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE devices SET token_hash = $2 WHERE id = $1", device_id, hash_token("new")
            )
        assert await eventually(lambda: refused(ingestor, token))


async def test_a_new_order_is_honoured_at_once(ingestor: Ingestor, pool: asyncpg.Pool) -> None:
    _, _, person_id = await enrolled(pool)
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM monitoring_orders WHERE person_id = $1", person_id)
    now = datetime.now(UTC)
    async with feeding(ingestor):
        assert await ingestor._order_windows(person_id) == ()  # no order: cached as none
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at) "
                "VALUES ($1, 'information_check', $2, $3)",
                person_id,
                now - timedelta(hours=1),
                now + timedelta(days=30),
            )

        async def honoured() -> bool:
            return await ingestor._order_windows(person_id) != ()

        assert await eventually(honoured)


async def test_cached_lookups_settle_where_no_full_collection_walks_them(
    ingestor: Ingestor, pool: asyncpg.Pool
) -> None:
    """At fleet size a cache that every full collection walks stops the API (70 ms at a million
    devices, benchmarks.cache_gc); settled entries are still forgotten on a change."""
    device_id, token, person_id = await enrolled(pool)
    assert not await refused(ingestor, token)
    assert await ingestor._order_windows(person_id) != ()
    for _ in range(4):  # a collection untracks a tuple only after the tuples inside it
        gc.collect()
        ingestor.settle_caches()  # as the change feed does every round
    caches = (ingestor._devices, ingestor._device_keys, ingestor._orders)
    assert [(len(cache), cache.unsettled) for cache in caches] == [(1, 0)] * 3
    assert not any(cache.is_walked() for cache in caches)
    async with feeding(ingestor):
        async with pool.acquire() as conn:
            await conn.execute("UPDATE devices SET revoked_at = now() WHERE id = $1", device_id)
        assert await eventually(lambda: refused(ingestor, token))


async def test_without_the_feed_entries_age_out(pool: asyncpg.Pool, redis_url: str) -> None:
    """The feed stopped (database trouble): a revocation still takes effect within
    device_cache_s of the feed's last answer, as before the feed existed."""
    redis = connect(redis_url)
    short = Ingestor(pool, redis, config(device_cache_s=0.5))
    device_id, token, _ = await enrolled(pool)
    async with feeding(short):
        await asyncio.sleep(0.2)
    assert not await refused(short, token)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE devices SET revoked_at = now() WHERE id = $1", device_id)
    assert await eventually(lambda: refused(short, token), within_s=3.0)
    await redis.aclose()
