"""Database upkeep run by the workers: daily ping partitions made ahead, raw tracks purged,
live-map position events and long-expired officer sessions purged.

ARCHITECTURE §8: raw tracks are purged after the retention period (`MONITOR_RETENTION_DAYS`,
the same limit ingest refuses older pings by), except pings that are evidence of an alert.
A day's pings live in their own partition, so a purge drops a partition rather than deleting
rows. Its evidence pings are copied out first, while ingest goes on (an old partition takes
no writes: ingest refuses pings that old); only the detach, drop and putting back of the
evidence hold the lock that pauses inserts, and that lock is given up after a second rather
than queueing ingest behind a long query (the next round tries again). Every purge is in
the audit log.

Position events (the live map's dots, one per person every few seconds at most) are the
bulk of the events table and copies of raw positions: they are deleted once older than
`MONITOR_POSITION_EVENTS_KEEP_H` (a console that was away longer loads the latest positions
instead), in batches so no statement holds its locks long. Alert events are the alerts'
history and stay.

Any number of workers may run this: a round takes an advisory lock first and is skipped while
another worker's round holds it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import asyncpg

from alerts import store as alert_store
from monitor import db
from monitor.auth import store as auth_store
from pings.pg import Conn

log = logging.getLogger(__name__)

MAINTENANCE_LOCK = 0x6D6F6E69746F72  # pg advisory lock key, "monitor"
LOCK_TIMEOUT = "1s"

OLD_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'pings'::regclass AND c.relname ~ '^pings_[0-9]{8}$'
  AND to_date(substr(c.relname, 7), 'YYYYMMDD') < $1
ORDER BY c.relname
"""
EVIDENCE = "SELECT DISTINCT e FROM alerts, unnest(evidence_ping_ids) AS e WHERE e IS NOT NULL"
POSITION_EVENTS_BATCH = 10_000
PURGE_POSITION_EVENTS = """
DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE type = 'position' AND created_at < $1 LIMIT $2
)
"""
PURGE_DEFAULT = f"""
DELETE FROM pings_default WHERE ts < $1::date::timestamptz AND id NOT IN ({EVIDENCE})
"""


@dataclass(frozen=True)
class Purged:
    days: list[str]  # the dropped partitions' days, YYYYMMDD
    evidence_kept: int  # evidence pings copied out of them and put back
    default_rows: int  # old pings deleted from the default partition
    position_events: int = 0  # live-map position events deleted
    sessions: int = 0  # officer sessions expired over a day ago, deleted


async def run_maintenance(
    pool: asyncpg.Pool, *, retention_days: int, position_events_keep: timedelta, interval_s: float
) -> None:
    while True:
        try:
            async with pool.acquire() as conn:
                await maintain(
                    conn,
                    now=datetime.now(UTC),
                    retention_days=retention_days,
                    position_events_keep=position_events_keep,
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("maintenance round failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


async def maintain(
    conn: Conn,
    *,
    now: datetime,
    retention_days: int,
    position_events_keep: timedelta = timedelta(hours=24),
) -> Purged | None:
    """One round: partitions for the coming week, then the purges. None: another worker's
    round holds the lock."""
    today = now.astimezone(UTC).date()
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK):
        return None
    try:  # a session lock on a pooled connection: released below, or when the connection dies
        await _partitions_ahead(conn, today)
        purged = await purge(conn, before=today - timedelta(days=retention_days))
        positions = await purge_position_events(conn, before=now - position_events_keep)
        sessions = await auth_store.purge_sessions(conn, expired_before=now - timedelta(days=1))
        return replace(purged, position_events=positions, sessions=sessions)
    finally:  # all, not one: a lock taken twice by this connection would outlive one unlock
        await conn.execute("SELECT pg_advisory_unlock_all()")


async def _partitions_ahead(conn: Conn, today: date) -> None:
    """A new partition locks pings as a detach does: busy, it waits for the next round (a week
    of them is made ahead), and the purges still run."""
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            made = await db.ensure_partitions(conn, today=today)
    except asyncpg.LockNotAvailableError:
        log.warning("partitions ahead put off: pings was busy for %s", LOCK_TIMEOUT)
        return
    if made:
        log.info("made %d ping partitions ahead", made)


async def purge(conn: Conn, *, before: date) -> Purged:
    """Every ping with a fix time before `before`, but for alerts' evidence."""
    days: list[str] = []
    kept = 0
    for row in await conn.fetch(OLD_PARTITIONS, before):
        part = row["relname"]
        try:
            kept += await _drop_partition(conn, part)
        except asyncpg.LockNotAvailableError:
            log.warning("purge of %s put off: pings was busy for %s", part, LOCK_TIMEOUT)
            break
        days.append(part.removeprefix("pings_"))
    deleted = int((await conn.execute(PURGE_DEFAULT, before)).split()[-1])
    purged = Purged(days, kept, deleted)
    if days or deleted:
        log.info("purged pings before %s: %s", before, purged)
        await alert_store.audit(
            conn, officer_id=None, action="pings.purge", subject="pings",
            details={"before": before.isoformat(), "days": days, "evidence_kept": kept,
                     "default_rows": deleted},
        )  # fmt: skip
    return purged


async def purge_position_events(conn: Conn, *, before: datetime) -> int:
    deleted = 0
    while True:
        status = await conn.execute(PURGE_POSITION_EVENTS, before, POSITION_EVENTS_BATCH)
        n = int(status.split()[-1])
        deleted += n
        if n < POSITION_EVENTS_BATCH:
            if deleted:
                log.info("deleted %d position events from before %s", deleted, before)
            return deleted


async def _drop_partition(conn: Conn, part: str) -> int:
    """Answers how many evidence pings were kept."""
    async with conn.transaction():
        # read while ingest goes on: the detach below waits for nothing but the lock
        await conn.execute(
            f"CREATE TEMP TABLE kept_pings ON COMMIT DROP AS "
            f'SELECT * FROM "{part}" WHERE id IN ({EVIDENCE})'
        )
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        await conn.execute(f'ALTER TABLE pings DETACH PARTITION "{part}"')
        await conn.execute(f'DROP TABLE "{part}"')
        # back into pings: with the day's partition gone they land in the default partition
        status = await conn.execute("INSERT INTO pings SELECT * FROM kept_pings")
        return int(status.split()[-1])
