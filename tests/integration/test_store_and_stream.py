"""Store and stream against the real servers: migrations, event-id ordering, the consumer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from alerts import store, streams
from alerts.consumer import PartitionConsumer, ensure_group
from alerts.evaluator import Evaluator, EvaluatorConfig
from alerts.models import EventType, NewEvent
from monitor import db
from monitor.registry import schemas
from monitor.registry import store as registry_store
from tests.e2e.test_slice import CENTRE, square


async def test_migrate_is_idempotent(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await db.migrate(conn) == []
        versions = await conn.fetch("SELECT version FROM schema_migrations")
    assert [r["version"] for r in versions] == [v for v, _, _ in db.migration_files()]


def event(jurisdiction_id: int) -> NewEvent:
    return NewEvent(EventType.POSITION, None, jurisdiction_id, "/x/", {"n": 1})


async def test_event_ids_become_visible_in_id_order(pool: asyncpg.Pool) -> None:
    """The first writer holds the counter to commit, so a later id never shows up first."""
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="ordering", level="city")
        )
    first_has_id = asyncio.Event()

    async def slow_writer() -> list[int]:
        async with pool.acquire() as conn, conn.transaction():
            ids = await store.append_events(conn, events=[event(city.id)])
            first_has_id.set()
            await asyncio.sleep(0.5)
            return ids

    async def fast_writer() -> tuple[list[int], float]:
        await first_has_id.wait()
        started = time.monotonic()
        async with pool.acquire() as conn, conn.transaction():
            ids = await store.append_events(conn, events=[event(city.id)])
        return ids, time.monotonic() - started

    slow, (fast, waited) = await asyncio.gather(slow_writer(), fast_writer())
    assert fast[0] > slow[0]
    assert waited >= 0.3, "the second writer must wait for the first to commit"


async def test_consumer_evaluates_acks_and_recovers_pending_entries(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    redis = aioredis.from_url(redis_url)
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="stream", level="city")
        )
        fence = await registry_store.insert_fence(
            conn, data=schemas.FenceIn(name="f", role="allowed", geometry=square(*CENTRE, 500))
        )
        person_id = await registry_store.insert_person(
            conn,
            data=schemas.PersonIn(
                case_number=f"S-{time.monotonic_ns()}",
                supervision_level="strict",
                allowed_fence_ids=[fence["id"]],
            ),
            jurisdiction_id=city.id,
        )
    stream = streams.ping_stream(99)
    await redis.delete(stream)
    await ensure_group(redis, stream)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    batch = [
        streams.StreamPing(
            id=n,
            person_id=person_id,
            device_id="d",
            ts_ms=now_ms + n * 10_000,
            lat=CENTRE[0] + 0.05,
            lon=CENTRE[1],
            accuracy_m=10.0,
            checkin=False,
            tamper=False,
            battery_pct=None,
        )
        for n in range(1, 4)
    ]
    await redis.xadd(stream, streams.encode_batch(batch))  # type: ignore[arg-type]
    # a consumer that "crashed": it read the entry but never acknowledged it
    await redis.xreadgroup(streams.EVALUATOR_GROUP, "c1", {stream: ">"}, count=10)
    consumer = PartitionConsumer(
        redis,
        pool,
        Evaluator(pool, EvaluatorConfig(5.0)),
        partition=99,
        batch=10,
        block_ms=100,
        consumer="c1",
    )
    task = asyncio.create_task(consumer.run())
    try:
        for _ in range(50):
            pending = await redis.xpending(stream, streams.EVALUATOR_GROUP)
            if pending["pending"] == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()
    assert pending["pending"] == 0
    async with pool.acquire() as conn:
        alerts = await conn.fetch(
            "SELECT type, evidence_ping_ids FROM alerts WHERE person_id = $1", person_id
        )
    assert [a["type"] for a in alerts] == ["out_of_area"]
    assert alerts[0]["evidence_ping_ids"] == [1, 2, 3]  # strict: 2 pings spanning 20 s
