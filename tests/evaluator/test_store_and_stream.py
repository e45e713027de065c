"""Store and stream against the real servers: migrations, event-id ordering, the consumer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from alerts import outbox
from alerts.models import EventType, NewEvent
from alerts.outbox import relay
from evaluator import state_store
from evaluator.consumer import StreamConsumer, ensure_group
from evaluator.engine import Evaluator, EvaluatorConfig
from monitor import db
from monitor.registry import schemas
from monitor.registry import store as registry_store
from pings import streams
from pings.batch import PingBatch
from tests.conftest import db_pool, flushed, fresh_database, redis_db
from tests.e2e.test_slice import CENTRE
from tests.registry_rows import person_in_new_city
from tests.stream_pings import PingRow


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
            ids = await outbox.append_events(conn, events=[event(city.id)])
            first_has_id.set()
            await asyncio.sleep(0.5)
            return ids

    async def fast_writer() -> tuple[list[int], float]:
        await first_has_id.wait()
        started = time.monotonic()
        async with pool.acquire() as conn, conn.transaction():
            ids = await outbox.append_events(conn, events=[event(city.id)])
        return ids, time.monotonic() - started

    slow, (fast, waited) = await asyncio.gather(slow_writer(), fast_writer())
    assert fast[0] > slow[0]
    assert waited >= 0.3, "the second writer must wait for the first to commit"


async def test_the_relay_wakes_the_hubs_for_events_their_publisher_never_announced(
    server_urls: tuple[str, str],
) -> None:
    """A writer that died between commit and publish: the relay wakes the hubs once for all
    of it and moves the watermark; events announced already are not announced again.

    It runs in a database and a Redis db of its own: the session's live server has a relay
    too, which moved the shared watermark past these events first in one CI-like run (its
    timers also published to the session's events stream in another)."""
    async with fresh_database(server_urls[0]) as url, db_pool(url) as own:
        async with own.acquire() as conn:
            city = await registry_store.insert_jurisdiction(
                conn, data=schemas.JurisdictionIn(name="relay", level="city")
            )
            async with conn.transaction():
                unannounced = await outbox.append_events(conn, events=[event(city.id)] * 3)
        async with flushed(redis_db(server_urls[1], 11)) as redis:
            entries = await relayed(own, redis, through=unannounced[-1])
        last, published = await store_publication(own)
    assert published == last == unannounced[-1]
    assert len(entries) == 1 and int(entries[0][1][b"last"]) == unannounced[-1]


async def store_publication(pool: asyncpg.Pool) -> tuple[int, int]:
    async with pool.acquire() as conn:
        return await outbox.publication(conn)


async def relayed(pool: asyncpg.Pool, redis: aioredis.Redis, *, through: int) -> Any:
    """Runs a relay until the watermark passes `through`, and a few passes more; answers the
    wake-ups it published."""
    task = asyncio.create_task(relay(redis, pool, interval_s=0.1))
    try:
        for _ in range(50):
            await asyncio.sleep(0.1)
            _, published = await store_publication(pool)
            if published >= through:
                break
        await asyncio.sleep(0.5)  # several more passes: nothing left to announce
        return await redis.xrange(streams.EVENT_STREAM)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_transaction_with_events_moves_the_watermark_over_those_announced(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="watermark", level="city")
        )
        async with conn.transaction():
            first = await outbox.append_events(conn, events=[event(city.id)])
        async with conn.transaction():  # the hubs were woken for `first` meanwhile
            second = await outbox.append_events(
                conn, events=[event(city.id)], published_through=first[0]
            )
        last, published = await outbox.publication(conn)
        async with conn.transaction():  # a stale mark never moves it back
            await outbox.append_events(conn, events=[event(city.id)], published_through=1)
        _, still = await outbox.publication(conn)
    assert last == second[0] and published >= first[0]
    assert still == published


async def strict_person(pool: asyncpg.Pool, city_name: str) -> int:
    """A strict-level person in a city of their own, allowed a 1 km square around CENTRE."""
    async with pool.acquire() as conn:
        person_id, _ = await person_in_new_city(conn, city_name, "strict")
    return person_id


def far_out(person_id: int, now_ms: int, ids: range) -> PingBatch:
    """Fixes 10 s apart, 5.5 km out of the person's square."""
    rows = [
        PingRow(
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
        for n in ids
    ]
    return PingBatch.of_rows(rows)


@contextlib.asynccontextmanager
async def consuming(consumer: StreamConsumer, *partitions: int) -> AsyncIterator[None]:
    """The consumer's shared read and these partitions run inside; its Redis client closes."""
    task = asyncio.gather(consumer.run(), *(consumer.run_partition(p) for p in partitions))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.redis.aclose()


async def wait_for(check: Any, timeout_s: float = 10.0) -> Any:
    """Polls `check()` until it answers something true, or the time is up."""
    deadline = time.monotonic() + timeout_s
    found = await check()
    for _ in range(int(timeout_s * 10)):
        if found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
        found = await check()
    return found


async def alert_count(pool: asyncpg.Pool, person_id: int) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM alerts WHERE person_id = $1", person_id
        )
    return found


async def test_one_read_serves_every_partition_a_worker_owns(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    redis = aioredis.from_url(redis_url)
    first, second = await strict_person(pool, "shared-a"), await strict_person(pool, "shared-b")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    partitions = {97: first, 98: second}  # streams no live server in this session reads
    for partition, person_id in partitions.items():
        stream = streams.ping_stream(partition)
        await redis.delete(stream)
        await ensure_group(redis, stream)
        for n in range(1, 4):  # an entry per fix: one read takes them all
            entry = streams.encode(far_out(person_id, now_ms, range(n, n + 1)), received_ms=now_ms)
            await redis.xadd(stream, entry)  # type: ignore[arg-type]
    consumer = StreamConsumer(
        redis, pool, Evaluator(pool, EvaluatorConfig(5.0)), partitions=100, batch=10, block_ms=100
    )

    async def all_alerted() -> bool:
        return all([await alert_count(pool, person_id) for person_id in partitions.values()])

    async with consuming(consumer, *partitions):
        alerted = await wait_for(all_alerted)
        assert sorted(consumer.live) == sorted(partitions)
        for partition in partitions:
            stream = streams.ping_stream(partition)
            assert (await redis.xpending(stream, streams.EVALUATOR_GROUP))["pending"] == 0
            consumers = await redis.xinfo_consumers(stream, streams.EVALUATOR_GROUP)
            assert [c["name"] for c in consumers] == [b"evaluator"]
    assert alerted
    assert consumer.live == {}, "a partition whose task ended has left the shared read"


async def test_consumer_evaluates_acks_and_recovers_pending_entries(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    redis = aioredis.from_url(redis_url)
    person_id = await strict_person(pool, "stream")
    stream = streams.ping_stream(99)
    await redis.delete(stream)
    await ensure_group(redis, stream)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    batch = far_out(person_id, now_ms, ids=range(1, 4))
    await redis.xadd(stream, streams.encode(batch, received_ms=now_ms))  # type: ignore[arg-type]
    # a consumer that "crashed": it read the entry but never acknowledged it (under the name
    # every partition's consumer had before they shared one read)
    await redis.xreadgroup(streams.EVALUATOR_GROUP, "partition-99", {stream: ">"}, count=10)
    consumer = StreamConsumer(
        redis, pool, Evaluator(pool, EvaluatorConfig(5.0)), partitions=100, batch=10, block_ms=100
    )
    async with consuming(consumer, 99):
        for _ in range(50):
            pending = await redis.xpending(stream, streams.EVALUATOR_GROUP)
            if pending["pending"] == 0:
                break
            await asyncio.sleep(0.1)
    assert pending["pending"] == 0
    async with pool.acquire() as conn:
        alerts = await conn.fetch(
            "SELECT type, evidence_ping_ids FROM alerts WHERE person_id = $1", person_id
        )
    assert [a["type"] for a in alerts] == ["out_of_area"]
    # 5.5 km out is far beyond any doubt: strict's 3 fixes decide without the 90 s dwell
    assert alerts[0]["evidence_ping_ids"] == [1, 2, 3]


PARTITIONS = 1000  # a person's partition here is one no live server in this session reads


async def stored_not_judged(pool: asyncpg.Pool, person_id: int, device: str) -> None:
    """Five far fixes stored since the partition's checkpoint, as if their stream entry was
    lost with Redis's data."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO stream_checkpoints (partition, received_through) VALUES ($1, $2) "
            "ON CONFLICT (partition) DO UPDATE SET received_through = $2",
            person_id % PARTITIONS,
            now - timedelta(minutes=5),
        )
        await conn.execute(
            "INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m) "
            "SELECT $5, $1, $2::timestamptz + n * interval '10 seconds', $3, $4, 10 "
            "FROM generate_series(0, 4) AS n",
            person_id,
            now - timedelta(minutes=2),
            CENTRE[0] + 0.05,
            CENTRE[1],
            device,
        )


def replaying_consumer(pool: asyncpg.Pool, redis: aioredis.Redis) -> StreamConsumer:
    return StreamConsumer(
        redis,
        pool,
        Evaluator(pool, EvaluatorConfig(5.0)),
        partitions=PARTITIONS,
        batch=2,
        block_ms=100,
    )


async def test_lost_stream_is_replayed_from_postgresql(pool: asyncpg.Pool, redis_url: str) -> None:
    """Redis restarted without its data: pings that were stored but never judged still are."""
    person_id = await strict_person(pool, "replay")
    partition = person_id % PARTITIONS
    await stored_not_judged(pool, person_id, "lost")
    redis = aioredis.from_url(redis_url)
    await redis.delete(streams.ping_stream(partition))
    consumer = replaying_consumer(pool, redis)
    async with consuming(consumer, partition):
        found = await wait_for(lambda: alert_count(pool, person_id))
    assert found == 1


async def test_a_stream_lost_while_read_is_replayed_and_read_again(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    """Redis lost a stream under a running worker: its shared read fails, the partition starts
    again, makes its group anew and judges from PostgreSQL what the stream had carried."""
    person_id = await strict_person(pool, "lost-midway")
    partition = person_id % PARTITIONS
    stream = streams.ping_stream(partition)
    redis = aioredis.from_url(redis_url)
    await redis.delete(stream)
    consumer = replaying_consumer(pool, redis)

    async def joined() -> bool:
        return partition in consumer.live

    async with consuming(consumer, partition):
        assert await wait_for(joined)
        await stored_not_judged(pool, person_id, "midway")
        await redis.delete(stream)  # its entries and its group with it
        found = await wait_for(lambda: alert_count(pool, person_id))
        assert await wait_for(joined), "the partition joins the shared read again"
    assert found == 1


async def test_a_transaction_with_two_reads_of_a_partition_keeps_the_furthest(
    pool: asyncpg.Pool,
) -> None:
    """The shared read does not wait for a transaction: one may hold several of a partition's
    reads, and its checkpoint is written once, at the furthest of them."""
    partition = 1_000_003  # no live server's partition
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        await state_store.save_progress(
            conn,
            states=[],
            progress=[
                state_store.Progress(partition, 20, now - timedelta(seconds=5)),
                state_store.Progress(partition, 10, now),
                state_store.Progress(partition + 1, 7, now),
            ],
        )
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT partition, last_ping_id, received_through FROM stream_checkpoints "
            "WHERE partition >= $1 ORDER BY partition",
            partition,
        )
    assert [tuple(r) for r in rows] == [(partition, 20, now), (partition + 1, 7, now)]


@dataclass
class OnePartition:
    """A strict person alone in an emptied partition stream, a consumer of it that judges
    each read at once (no gather), and the means to hold up the person's next transaction."""

    pool: asyncpg.Pool
    redis: aioredis.Redis
    consumer: StreamConsumer
    person_id: int
    now_ms: int = field(default_factory=lambda: int(datetime.now(UTC).timestamp() * 1000))

    @property
    def partition(self) -> int:
        return self.person_id % PARTITIONS

    @property
    def stream(self) -> str:
        return streams.ping_stream(self.partition)

    async def add(self, ids: range) -> None:
        pings = far_out(self.person_id, self.now_ms, ids)
        entry = streams.encode(pings, received_ms=self.now_ms)
        await self.redis.xadd(self.stream, entry)  # type: ignore[arg-type]

    async def pending(self) -> int:
        found: int = (await self.redis.xpending(self.stream, streams.EVALUATOR_GROUP))["pending"]
        return found

    def pending_is(self, count: int) -> Any:
        async def check() -> bool:
            return await self.pending() == count

        return check

    async def judged(self) -> bool:
        """Everything read is acknowledged, and the person has a state row to hold."""
        async with self.pool.acquire() as conn:
            state = await conn.fetchval(
                "SELECT 1 FROM person_state WHERE person_id = $1", self.person_id
            )
        return bool(state) and await self.pending() == 0

    @contextlib.asynccontextmanager
    async def state_held(self) -> AsyncIterator[None]:
        """The person's state row locked: their next transaction waits until the block ends."""
        async with self.pool.acquire() as blocker, blocker.transaction():
            await blocker.execute(
                "SELECT 1 FROM person_state WHERE person_id = $1 FOR UPDATE", self.person_id
            )
            yield


async def one_partition(pool: asyncpg.Pool, redis_url: str, city_name: str) -> OnePartition:
    redis = aioredis.from_url(redis_url)
    evaluator = Evaluator(pool, EvaluatorConfig(5.0, gather_s=0.0))
    consumer = StreamConsumer(redis, pool, evaluator, partitions=PARTITIONS, batch=10, block_ms=100)
    one = OnePartition(pool, redis, consumer, await strict_person(pool, city_name))
    await redis.delete(one.stream)
    await ensure_group(redis, one.stream)
    return one


async def test_the_shared_read_goes_on_while_a_transaction_waits(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    """What arrives while a transaction runs is read at once and queued for the next one,
    not left in Redis until the transaction ends (that wait was most of a ping's time from
    ingest to evaluation)."""
    one = await one_partition(pool, redis_url, "pipelined")
    async with consuming(one.consumer, one.partition):
        await one.add(range(1, 2))
        assert await wait_for(one.judged)
        async with one.state_held():
            await one.add(range(2, 3))
            assert await wait_for(one.pending_is(1)), "read, and its transaction waits"
            await one.add(range(3, 5))
            assert await wait_for(one.pending_is(2)), "read while the transaction waits"
        assert await wait_for(one.pending_is(0))
        assert await wait_for(lambda: alert_count(pool, one.person_id))
        async with pool.acquire() as conn:
            through = await conn.fetchval(
                "SELECT last_ping_id FROM stream_checkpoints WHERE partition = $1", one.partition
            )
    assert through == 4


async def test_a_partition_that_leaves_first_finishes_judging_what_it_read(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    """A partition released (or whose lease was lost) while a read of it is being judged
    waits for that judgement before the lease passes on: its entries are acknowledged, not
    left pending for the next owner to claim and judge again."""
    one = await one_partition(pool, redis_url, "handover")
    consumer = one.consumer

    async def in_flight() -> bool:
        return await one.pending() == 1 and one.partition in consumer.live

    shared = asyncio.create_task(consumer.run())
    owned = asyncio.create_task(consumer.run_partition(one.partition))
    try:
        await one.add(range(1, 2))
        assert await wait_for(one.judged)
        async with one.state_held():
            await one.add(range(2, 4))
            assert await wait_for(in_flight), "read; its judgement waits"
            owned.cancel()  # the lease is going
            await asyncio.sleep(0.5)
            assert not owned.done(), "the partition waits for the judgement it started"
        await asyncio.gather(owned, return_exceptions=True)
        assert await one.pending() == 0, "acknowledged before the lease passed on"
        assert one.partition not in consumer.live
    finally:
        for task in (owned, shared):
            task.cancel()
        await asyncio.gather(owned, shared, return_exceptions=True)
        await one.redis.aclose()
