"""Ping partitions and the retention purge against the real database (ARCHITECTURE §8).

The days used here (2019, 2031) are far from any other test's pings: the purge and the
partitions are the whole database's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg

from alerts import outbox
from alerts.models import EventType, NewEvent
from monitor import db
from monitor.maintenance import MAINTENANCE_LOCK, maintain
from pings.pg import Conn
from tests.e2e.test_slice import CENTRE
from tests.registry_rows import person_in_new_city

JULY_1 = datetime(2019, 7, 1, 12, tzinfo=UTC)


async def store_ping(conn: Conn, person_id: int, ts: datetime) -> int:
    ping_id: int = await conn.fetchval(
        "INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m) "
        "VALUES ('band', $1, $2, $3, $4, 10) RETURNING id",
        person_id,
        ts,
        *CENTRE,
    )
    return ping_id


async def where(conn: Conn, ping_ids: list[int]) -> dict[int, str]:
    """Each ping still stored, with the partition holding it."""
    rows = await conn.fetch(
        "SELECT id, tableoid::regclass::text AS part FROM pings WHERE id = ANY($1::bigint[])",
        ping_ids,
    )
    return {r["id"]: r["part"] for r in rows}


async def test_a_day_whose_pings_went_to_the_default_partition_gets_its_partition(
    pool: asyncpg.Pool,
) -> None:
    """A service up for over a week used to write the next days into pings_default and then
    could not start again: the partition for such a day could not be made."""
    async with pool.acquire() as conn:
        person_id, _ = await person_in_new_city(conn, "purge")
        noon = datetime(2031, 3, 1, 4, tzinfo=UTC)  # noon in Shanghai, whatever the server's zone
        ping_id = await store_ping(conn, person_id, noon)
        assert await where(conn, [ping_id]) == {ping_id: "pings_default"}
        made = await db.ensure_partitions(conn, today=date(2031, 3, 1), back_days=1, ahead_days=1)
        assert made == 3
        [part] = (await where(conn, [ping_id])).values()
        assert part.startswith("pings_203")  # its day's partition, in the server's time zone
        assert await conn.fetchval("SELECT count(*) FROM pings_default WHERE ts = $1", noon) == 0


async def test_the_purge_drops_old_days_but_keeps_alert_evidence(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        person_id, city_id = await person_in_new_city(conn, "purge")
        await db.ensure_partitions(conn, today=date(2019, 5, 20), back_days=0, ahead_days=0)
        await db.ensure_partitions(conn, today=date(2019, 6, 2), back_days=0, ahead_days=0)
        old = [
            await store_ping(conn, person_id, datetime(2019, 5, 20, h, tzinfo=UTC))
            for h in (4, 5, 6)
        ]
        unpartitioned = [
            await store_ping(conn, person_id, datetime(2019, 5, 10, h, tzinfo=UTC)) for h in (4, 5)
        ]
        recent = await store_ping(conn, person_id, datetime(2019, 6, 2, 4, tzinfo=UTC))
        evidence = [old[1], unpartitioned[0]]
        await conn.execute(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, "
            "last_evidence_at, evidence_ping_ids) VALUES ($1, $2, 'out_of_area', 'resolved', "
            "'2019-05-20T05:00Z', '2019-05-20T05:00Z', $3)",
            person_id,
            city_id,
            evidence,
        )
        # 30 days' retention on 2019-07-01: everything before 1 June goes
        purged = await maintain(conn, now=JULY_1, retention_days=30)
        assert purged is not None
        assert purged.days == ["20190520"] and purged.evidence_kept == 1
        assert purged.default_rows == 1
        left = await where(conn, [*old, *unpartitioned, recent])
        assert sorted(left) == sorted([*evidence, recent]), "evidence and recent pings stay"
        assert await conn.fetchval("SELECT to_regclass('pings_20190520')") is None
        audit = await conn.fetchrow(
            "SELECT officer_id, details FROM audit_log WHERE action = 'pings.purge' "
            "ORDER BY id DESC LIMIT 1"
        )
        assert audit is not None
        assert audit["officer_id"] is None and audit["details"]["days"] == ["20190520"]
        again = await maintain(conn, now=JULY_1, retention_days=30)
        assert again is not None and (again.days, again.default_rows) == ([], 0)
        assert sorted(await where(conn, [*old, *unpartitioned, recent])) == sorted(left)


async def test_one_round_at_a_time_across_workers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as first, pool.acquire() as second:
        await first.execute("SELECT pg_advisory_lock($1)", MAINTENANCE_LOCK)
        try:
            skipped = await maintain(second, now=JULY_1, retention_days=30)
        finally:
            await first.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK)
        assert skipped is None
        assert await asyncio.wait_for(maintain(second, now=JULY_1, retention_days=30), 10)


async def test_old_position_events_go_and_alert_events_stay(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        person_id, city_id = await person_in_new_city(conn, "purge")
        path = await conn.fetchval("SELECT path FROM jurisdictions WHERE id = $1", city_id)
        events = [
            NewEvent(kind, person_id, city_id, path, {"n": n})
            for n, kind in enumerate(
                [EventType.POSITION, EventType.POSITION, EventType.ALERT_UPDATED]
            )
        ]
        old_position, new_position, old_alert = await outbox.append_events(conn, events=events)
        await conn.execute(
            "UPDATE events SET created_at = $2 WHERE id = ANY($1::bigint[])",
            [old_position, old_alert],
            JULY_1 - timedelta(hours=25),
        )
        await conn.execute(
            "UPDATE events SET created_at = $2 WHERE id = $1",
            new_position,
            JULY_1 - timedelta(hours=23),
        )
        purged = await maintain(conn, now=JULY_1, retention_days=30)
        assert purged is not None and purged.position_events >= 1
        left = await conn.fetch(
            "SELECT id FROM events WHERE id = ANY($1::bigint[]) ORDER BY id",
            [old_position, new_position, old_alert],
        )
    assert [r["id"] for r in left] == [new_position, old_alert]


async def test_a_busy_pings_table_puts_the_purge_off_instead_of_queueing_ingest(
    pool: asyncpg.Pool,
) -> None:
    """The detach needs the lock every insert waits behind: held elsewhere (a long read of
    pings here), the purge gives up after LOCK_TIMEOUT and the next round drops the day."""
    async with pool.acquire() as reader, pool.acquire() as conn:
        person_id, _ = await person_in_new_city(conn, "busy")
        await db.ensure_partitions(conn, today=date(2019, 4, 10), back_days=0, ahead_days=0)
        await store_ping(conn, person_id, datetime(2019, 4, 10, 4, tzinfo=UTC))
        async with reader.transaction():
            await reader.fetchval("SELECT count(*) FROM pings WHERE ts < '2019-05-01'")
            # without the lock timeout this would wait for the reader, which waits for it
            put_off = await asyncio.wait_for(maintain(conn, now=JULY_1, retention_days=30), 10)
        assert put_off is not None and "20190410" not in put_off.days
        assert await conn.fetchval("SELECT to_regclass('pings_20190410')") is not None
        done = await maintain(conn, now=JULY_1, retention_days=30)
    assert done is not None and "20190410" in done.days


async def test_a_busy_pings_table_puts_off_the_partitions_ahead_not_the_round(
    pool: asyncpg.Pool,
) -> None:
    """Making a partition waits for the same lock: the round goes on without it, and a later
    round makes it. (A spring of 2018 no other test makes partitions for.)"""
    now = datetime(2018, 4, 2, 12, tzinfo=UTC)
    async with pool.acquire() as reader, pool.acquire() as conn:
        assert await conn.fetchval("SELECT to_regclass('pings_20180405')") is None
        async with reader.transaction():
            await reader.fetchval("SELECT count(*) FROM pings WHERE ts < '2018-01-01'")
            busy = await asyncio.wait_for(maintain(conn, now=now, retention_days=30), 10)
        assert busy is not None
        assert await conn.fetchval("SELECT to_regclass('pings_20180405')") is None
        await maintain(conn, now=now, retention_days=30)
        assert await conn.fetchval("SELECT to_regclass('pings_20180405')") is not None


async def test_sessions_expired_over_a_day_ago_are_deleted(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        _, city_id = await person_in_new_city(conn, "sessions")
        officer_id = await conn.fetchval(
            "INSERT INTO officers (username, password_hash, role, jurisdiction_id) "
            "VALUES ($1, 'x', 'officer', $2) RETURNING id",
            f"sessions-{time.monotonic_ns()}",
            city_id,
        )
        for token, expired in ((b"old", timedelta(days=2)), (b"recent", timedelta(hours=1))):
            await conn.execute(
                "INSERT INTO officer_sessions (token_hash, officer_id, expires_at) "
                "VALUES ($1, $2, $3)",
                token + str(officer_id).encode(),
                officer_id,
                JULY_1 - expired,
            )
        purged = await maintain(conn, now=JULY_1, retention_days=30)
        left = await conn.fetch(
            "SELECT token_hash FROM officer_sessions WHERE officer_id = $1", officer_id
        )
    assert purged is not None and purged.sessions >= 1
    assert [bytes(r["token_hash"]) for r in left] == [b"recent" + str(officer_id).encode()]
