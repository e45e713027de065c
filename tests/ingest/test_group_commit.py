"""Group commit against the real servers: batching, exactly-once storage, failure answers."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from ingest import store as ingest_store
from ingest.group_commit import (
    CommitUnavailableError,
    GroupCommitter,
    GroupConfig,
    StorageRefusedError,
    stream_entries,
)
from ingest.lanes import is_open
from ingest.models import Ping
from monitor import db
from pings import streams
from pings.clock import dt_to_us
from pings.copy import plain_copy
from pings.replay import replay_page
from tests.conftest import free_port
from tests.stream_pings import batch_of, rows_of

# pings here belong to no enrolled person: an id the session's registry never reaches, or
# a person enrolled by a later test would find these pings in their track
NO_PERSON = 10**12


def pings(device: str, count: int, start: datetime) -> list[Ping]:
    first = dt_to_us(start)
    return [Ping(device, first + n * 1_000_000, 22.5, 114.0, 10.0) for n in range(count)]


async def test_concurrent_requests_share_commits_and_store_each_ping_once(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    redis = aioredis.from_url(redis_url)
    committer = GroupCommitter(pool, redis, GroupConfig(partitions=4, stream_maxlen=10_000))
    runner = asyncio.create_task(committer.run())
    device = f"gc-{time.monotonic_ns()}"
    start = datetime.now(UTC).replace(microsecond=0)
    flushes = 0
    original = committer._flush

    async def counting(batch: list) -> None:  # type: ignore[type-arg]
        nonlocal flushes
        flushes += 1
        await original(batch)

    committer._flush = counting  # type: ignore[method-assign]
    try:
        # 40 requests of 10 pings; every request repeats its neighbour's last ping
        requests = [pings(device, 11, start + timedelta(seconds=10 * n)) for n in range(40)]
        results = await asyncio.gather(*(committer.submit(NO_PERSON, r) for r in requests))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()
    assert sum(len(r) for r in results) == 401, "each distinct ping is new exactly once"
    assert flushes < 40, "concurrent requests must share flushes"
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM pings WHERE device_id = $1", device)
    assert stored == 401


async def test_unreachable_database_fails_the_waiting_requests(redis_url: str) -> None:
    dead = await db.create_pool(
        f"postgresql://postgres@127.0.0.1:{free_port()}/x", min_size=0, max_size=1
    )
    redis = aioredis.from_url(redis_url)
    committer = GroupCommitter(dead, redis, GroupConfig(partitions=1, stream_maxlen=10))
    runner = asyncio.create_task(committer.run())
    try:
        with pytest.raises(CommitUnavailableError):
            await committer.submit(NO_PERSON, pings("dead", 1, datetime.now(UTC)))
        with pytest.raises(OSError):  # readiness is red while ingest cannot commit
            await committer.check()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()
        await dead.close()
    assert committer.has_room(50_000) and not committer.has_room(50_001)


async def test_a_lane_whose_connection_the_server_closed_commits_again(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    """A PostgreSQL restart closes the lane's kept connection while it is idle; asyncpg then
    detaches it from the pool, and every call on it raised, so ingest answered 503 until the
    process was restarted. The next flush and the readiness check must take a new one."""
    redis = aioredis.from_url(redis_url)
    committer = GroupCommitter(pool, redis, GroupConfig(partitions=1, stream_maxlen=10, lanes=1))
    runner = asyncio.create_task(committer.run())
    device = f"lane-{time.monotonic_ns()}"
    start = datetime.now(UTC)
    try:
        await committer.submit(NO_PERSON, pings(device, 1, start))
        lane = committer._idle.get_nowait()
        committer._idle.put_nowait(lane)
        assert lane.conn is not None
        pid = lane.conn.get_server_pid()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # until asyncpg has seen the socket close and detached it
            if not is_open(lane.conn):
                break
            await asyncio.sleep(0.02)
        await committer.check()
        assert lane.conn is not None and lane.conn.get_server_pid() != pid
        await committer.submit(NO_PERSON, pings(device, 1, start + timedelta(seconds=1)))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM pings WHERE device_id = $1", device)
    assert stored == 2


async def test_a_poison_request_fails_alone(pool: asyncpg.Pool, redis_url: str) -> None:
    """Data PostgreSQL refuses (a NUL in JSON text) costs its own request, not the group's."""
    redis = aioredis.from_url(redis_url)
    committer = GroupCommitter(pool, redis, GroupConfig(partitions=4, stream_maxlen=10_000))
    device = f"poison-{time.monotonic_ns()}"
    start = datetime.now(UTC)
    poison = Ping(device, dt_to_us(start), 22.5, 114.0, 10.0, attrs={"note": "bad\u0000byte"})
    good = pings(device, 3, start + timedelta(seconds=1))
    submitted = [
        asyncio.ensure_future(committer.submit(NO_PERSON, [poison])),
        asyncio.ensure_future(committer.submit(NO_PERSON, good)),
    ]
    runner = asyncio.create_task(committer.run())
    try:
        results = await asyncio.gather(*submitted, return_exceptions=True)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()
    assert isinstance(results[0], StorageRefusedError)
    assert isinstance(results[1], set) and len(results[1]) == 3


@pytest.mark.parametrize("path", ["copy", "insert"])
async def test_every_field_is_stored_as_sent_whether_or_not_its_column_is_empty(
    pool: asyncpg.Pool, path: str
) -> None:
    """Both ways a flush is stored: COPY (no duplicate) and INSERT (after one). For INSERT,
    columns nobody filled go to PostgreSQL as NULL arrays (ingest.store.unless_empty);
    checkin, tamper and crs_in still get their defaults and a filled field its value."""
    device = f"fields-{path}-{time.monotonic_ns()}"
    at = datetime.now(UTC).replace(microsecond=0)
    full = Ping(
        device,
        dt_to_us(at),
        22.5,
        114.0,
        10.0,
        3.5,
        90.0,
        55.0,
        True,
        True,
        "wifi",
        42,
        "gcj02",
        {"alarm": "sos"},
    )
    bare = Ping(device, dt_to_us(at + timedelta(seconds=1)), 22.5, 114.0, 10.0)
    ids = ingest_store.PingIds()
    async with pool.acquire() as conn:
        later = replace(bare, ts_us=dt_to_us(at + timedelta(seconds=2)))
        for rows in ([(NO_PERSON, full), (NO_PERSON, bare)], [(NO_PERSON, later)]):
            first = await ids.take(conn, len(rows))
            if path == "copy":
                await ingest_store.copy_pings(conn, batch=batch_of(rows), first_id=first)
            else:
                await ingest_store.insert_pings(conn, batch=batch_of(rows), first_id=first)
        stored = await conn.fetch(
            "SELECT speed_mps, heading_deg, battery_pct, checkin, tamper, source, seq, crs_in,"
            " attrs, id FROM pings WHERE device_id = $1 ORDER BY ts",
            device,
        )
    empty = (None, None, None, False, False, None, None, "wgs84", None)
    assert [tuple(r)[:-1] for r in stored] == [
        (3.5, 90.0, 55.0, True, True, "wifi", 42, "gcj02", {"alarm": "sos"}),
        empty,
        empty,
    ]
    first = stored[0]["id"]
    assert [r["id"] for r in stored] == [first, first + 1, first + 2], "numbered in order"


async def test_a_flush_with_a_duplicate_is_stored_once_and_says_which_pings_were_new(
    pool: asyncpg.Pool,
) -> None:
    """COPY refuses the whole flush for one duplicate; the flush goes in again by INSERT,
    which skips the duplicates (stored before, or repeated within the flush) and names the
    new pings by their place, with the ids their places give them."""
    device = f"dup-{time.monotonic_ns()}"
    start = datetime.now(UTC).replace(microsecond=0)
    earlier = pings(device, 2, start)
    ids = ingest_store.PingIds()
    async with pool.acquire() as conn:
        first = await ids.take(conn, 2)
        new = await ingest_store.store_pings(
            conn, batch=batch_of([(NO_PERSON, p) for p in earlier]), first_id=first
        )
        assert new == {0: first, 1: first + 1}
        fresh = pings(device, 2, start + timedelta(seconds=10))
        flush = [earlier[1], fresh[0], fresh[0], fresh[1]]  # stored before; repeated within
        fallbacks = metric_value("monitor_ingest_copy_duplicates_total")
        first = await ids.take(conn, len(flush))
        new = await ingest_store.store_pings(
            conn, batch=batch_of([(NO_PERSON, p) for p in flush]), first_id=first
        )
        assert new == {1: first + 1, 3: first + 3}
        assert metric_value("monitor_ingest_copy_duplicates_total") == fallbacks + 1
        stored = await conn.fetch(
            "SELECT id, ts FROM pings WHERE device_id = $1 ORDER BY ts", device
        )
    assert len(stored) == 4, "each distinct ping stored once"
    assert [r["id"] for r in stored[2:]] == [first + 1, first + 3]


async def test_id_blocks_never_overlap_between_processes(pool: asyncpg.Pool) -> None:
    """Two API processes (two PingIds, two connections) number their pings from blocks
    PostgreSQL reserved for each: no id is given twice, and each takes consecutive ids."""
    a, b = ingest_store.PingIds(), ingest_store.PingIds()
    taken: list[range] = []
    async with pool.acquire() as conn_a, pool.acquire() as conn_b:
        size = await conn_a.fetchval(
            "SELECT seqincrement FROM pg_sequence WHERE seqrelid = 'pings_id_seq'::regclass"
        )
        assert size == 65_536
        for count in (10, 5000, 1, 60_000, 65_536, 3):  # some cannot fit what is left
            for ids, conn in ((a, conn_a), (b, conn_b)):
                taken.append(range(first := await ids.take(conn, count), first + count))
        with pytest.raises(ValueError, match="an id block holds 65536"):
            await a.take(conn_a, 65_537)
    every = [n for r in taken for n in r]
    assert len(every) == len(set(every))


def metric_value(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return value or 0.0


async def test_a_replayed_fix_has_the_fix_time_its_stream_entry_had(pool: asyncpg.Pool) -> None:
    """A fix time with a sub-millisecond part (vendors' ISO times carry microseconds) must
    replay from PostgreSQL as the same ts_ms the stream carried: one millisecond later, the
    state machine would judge an already judged fix again."""
    device = f"subms-{time.monotonic_ns()}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    sent = [
        Ping(device, dt_to_us(start + timedelta(microseconds=us)), 22.5, 114.0, 10.0)
        for us in (567_800, 999_999, 500, 1_000)
    ]
    async with pool.acquire() as conn:
        first = await ingest_store.PingIds().take(conn, len(sent))
        ids = await ingest_store.store_pings(
            conn, batch=batch_of([(NO_PERSON, p) for p in sent]), first_id=first
        )
        page = await replay_page(
            conn,
            since=start - timedelta(minutes=1),
            partitions=1,
            partition=0,
            after=(NO_PERSON - 1, start, -1),
            limit=1000,
        )
    entries = stream_entries(batch_of([(NO_PERSON, p) for p in sent]), ids, 1, received_ms=0)
    streamed = {p["id"]: p["ts_ms"] for p in rows_of(streams.decode(entries[0]))}
    assert page is not None
    replayed = {r["id"]: r["ts_ms"] for r in rows_of(page[0]) if r["device_id"] == device}
    assert replayed == streamed
    assert sorted(streamed.values()) == [
        int(start.timestamp()) * 1000 + ms for ms in (0, 1, 567, 999)
    ]


# someone waits for this transaction to end (pg_stat_activity would not do: inside a
# transaction it answers from a snapshot taken at its first use)
WAITING_ON_US = """
SELECT count(*) FROM pg_locks
WHERE NOT granted AND locktype = 'transactionid' AND transactionid = pg_current_xact_id()::xid
"""


async def test_a_flush_that_deadlocks_is_stored_again_not_refused(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    """Two flushes holding some of the same pings in opposite orders (a device's retry while
    its first upload waits) can deadlock; PostgreSQL then rolls one back. Nothing was wrong
    with its pings: it is stored again, never answered 422, which tells a device to drop them."""
    device = f"deadlock-{time.monotonic_ns()}"
    first, second = pings(device, 2, datetime.now(UTC).replace(microsecond=0))
    insert = (
        "INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
    )

    def values(p: Ping) -> tuple[object, ...]:
        return (p.device_id, NO_PERSON, p.ts, p.lat, p.lon, p.accuracy_m)

    redis = aioredis.from_url(redis_url)
    committer = GroupCommitter(pool, redis, GroupConfig(partitions=1, stream_maxlen=10_000))
    runner = asyncio.create_task(committer.run())
    other = await pool.acquire()
    try:
        transaction = other.transaction()
        await transaction.start()
        # the flush waits first, so its own 1 s deadlock_timeout finds the deadlock
        await other.execute("SET LOCAL deadlock_timeout = '20s'")
        await other.execute(insert, *values(first))
        flush = asyncio.ensure_future(committer.submit(NO_PERSON, [second, first]))
        for _ in range(200):  # until the flush has stored `second` and waits on `first`
            if await other.fetchval(WAITING_ON_US):
                break
            await asyncio.sleep(0.05)
        await other.execute(insert, *values(second))  # waits on the flush: a deadlock
        await transaction.commit()
        assert await asyncio.wait_for(flush, 10) == set(), "both were stored meanwhile"
    finally:
        await pool.release(other)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await redis.aclose()
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM pings WHERE device_id = $1", device)
    assert stored == 2


# every column of a stored ping that the two COPY encoders write, in COPY order
STORED_AS = "SELECT {columns} FROM {table} ORDER BY id"
edge_floats = st.sampled_from([0.0, -0.0, 1e-300, 0.1, 1 / 3, 16_777_217.0])


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 2**62),
            st.builds(
                Ping,
                device_id=st.text(alphabet="abc-0123456789", min_size=1, max_size=30),
                ts_us=st.integers(dt_to_us(datetime(2000, 1, 1, tzinfo=UTC)) - 10**9, 4 * 10**15),
                lat=st.floats(-90, 90) | edge_floats,
                lon=st.floats(-180, 180) | edge_floats,
                accuracy_m=st.floats(0, 100_000) | edge_floats,
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
async def test_plain_pings_are_stored_alike_by_either_copy_encoder(
    pool: asyncpg.Pool, rows: list[tuple[int, Ping]]
) -> None:
    """What PostgreSQL stores from the column-at-a-time binary COPY data equals what it
    stores from asyncpg's encoder: the same values, to the last bit of each float and real
    and the last microsecond (on both sides of PostgreSQL's epoch, 2000), and the same
    defaults and NULLs."""
    data = plain_copy(batch_of(rows), 1)
    assert data is not None
    columns = ingest_store.COLUMNS
    async with pool.acquire() as conn, conn.transaction():
        for table in ("by_asyncpg", "by_columns"):
            await conn.execute(
                f"CREATE TEMP TABLE {table} (LIKE pings INCLUDING DEFAULTS) ON COMMIT DROP"
            )
        records = ingest_store.copy_records(batch_of(rows), 1)
        await conn.copy_records_to_table("by_asyncpg", records=records, columns=columns)
        source: Any = memoryview(data)
        await conn.copy_to_table("by_columns", source=source, columns=columns, format="binary")
        stored = [
            [
                tuple(r)
                for r in await conn.fetch(STORED_AS.format(columns=", ".join(columns), table=t))
            ]
            for t in ("by_asyncpg", "by_columns")
        ]
    assert stored[0] == stored[1]
    assert [r[:3] for r in stored[1]] == [
        (n + 1, p.device_id, person) for n, (person, p) in enumerate(rows)
    ]
