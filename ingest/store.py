"""SQL of the ingest path: device lookup, monitoring orders, and the durable ping insert."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg

from ingest import metrics
from ingest.models import Device
from pings.batch import CHECKIN, TAMPER, PingBatch, Stored, nan_to_none
from pings.clock import EPOCH, MICROSECOND
from pings.copy import plain_copy
from pings.pg import Conn

DEVICE_COLUMNS = "id, person_id, kind, identifier_only, expected_interval_s"
GET_DEVICE_BY_TOKEN = f"""
SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1 AND revoked_at IS NULL
"""
GET_DEVICE_BY_ID = f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 AND revoked_at IS NULL"


async def get_device_by_token(conn: Conn, *, token_hash: bytes) -> Device | None:
    row = await conn.fetchrow(GET_DEVICE_BY_TOKEN, token_hash)
    return None if row is None else Device(**dict(row))


async def get_device_by_id(conn: Conn, *, device_id: str) -> Device | None:
    row = await conn.fetchrow(GET_DEVICE_BY_ID, device_id)
    return None if row is None else Device(**dict(row))


# what changed since a moment (the database's clock; the first time, the last minute): devices
# by id, orders by person
CHANGES = """
WITH since AS (SELECT coalesce($1::timestamptz, now() - interval '1 minute') AS t)
SELECT now() AS now,
       ARRAY(SELECT id FROM devices, since WHERE changed_at > since.t) AS device_ids,
       ARRAY(SELECT DISTINCT person_id FROM monitoring_orders, since
             WHERE changed_at > since.t) AS person_ids
"""


async def changes(conn: Conn, *, since: datetime | None) -> tuple[datetime, list[str], list[int]]:
    """(the database's now, devices changed since `since`, persons whose orders changed)."""
    row = await conn.fetchrow(CHANGES, since)
    assert row is not None
    return row["now"], list(row["device_ids"]), list(row["person_ids"])


# a revoked order (解除) covers up to its revocation: a band's buffered upload of positions
# fixed while it was in force is still taken, nothing fixed after it (least() skips a NULL)
ORDER_WINDOWS = """
SELECT starts_at, least(ends_at, revoked_at) AS ends_at FROM monitoring_orders
WHERE person_id = $1 AND ends_at > now() - interval '400 days'
"""


async def order_windows(conn: Conn, *, person_id: int) -> list[tuple[datetime, datetime]]:
    return [(r["starts_at"], r["ends_at"]) for r in await conn.fetch(ORDER_WINDOWS, person_id)]


# Duplicates (same device, fix time and position) are stored once: the primary key is
# (person_id, ts, device_id, lat, lon), the same rule since a device never changes person
# (migrations/0005). Rows are numbered before they are stored, from a block of ids this
# process reserved (migrations/0013): a flush with no duplicate, nearly every one, goes in by
# COPY, which costs PostgreSQL half the CPU of an INSERT per row and the API a third less;
# COPY refuses a whole flush for one duplicate, and that flush goes in again by INSERT ...
# ON CONFLICT DO NOTHING, whose RETURNING names the new rows by their ids. A ping repeated
# within the input is new only at its first place.
RESERVE_IDS = """
SELECT nextval('pings_id_seq') AS first, seqincrement AS size
FROM pg_sequence WHERE seqrelid = 'pings_id_seq'::regclass
"""

COLUMNS = (
    "id", "device_id", "person_id", "ts", "lat", "lon", "accuracy_m", "speed_mps",
    "heading_deg", "battery_pct", "checkin", "tamper", "source", "seq", "crs_in", "attrs",
)  # fmt: skip

INSERT_PINGS = """
INSERT INTO pings (id, device_id, person_id, ts, lat, lon, accuracy_m, speed_mps, heading_deg,
                   battery_pct, checkin, tamper, source, seq, crs_in, attrs)
SELECT $1::bigint + n - 1, device_id, person_id,
       'epoch'::timestamptz + ts_us * interval '1 microsecond', lat, lon, accuracy_m, speed_mps,
       heading_deg, battery_pct, coalesce(checkin, false), coalesce(tamper, false), source, seq,
       coalesce(crs_in, 'wgs84'), attrs
FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::float8[],
            $6::float8[], $7::real[], $8::real[], $9::real[], $10::real[],
            $11::bool[], $12::bool[], $13::text[], $14::bigint[], $15::text[],
            $16::jsonb[]) WITH ORDINALITY
    AS u(device_id, person_id, ts_us, lat, lon, accuracy_m, speed_mps, heading_deg,
         battery_pct, checkin, tamper, source, seq, crs_in, attrs, n)
ORDER BY n
ON CONFLICT DO NOTHING
RETURNING id
"""


class PingIds:
    """Ping ids from blocks reserved in PostgreSQL, handed out in the order they are asked
    for: one process's flushes get growing ids, as they reach the streams."""

    def __init__(self) -> None:
        self._next = self._end = 0
        self._lock = asyncio.Lock()

    async def take(self, conn: Conn, count: int) -> int:
        """The first of `count` consecutive ids no other caller or process gets."""
        async with self._lock:  # waiters are served in turn; no wait while a block has room
            if self._next + count > self._end:
                block = await conn.fetchrow(RESERVE_IDS)
                assert block is not None
                first, size = block["first"], block["size"]
                if count > size:
                    raise ValueError(f"{count} pings in one flush; an id block holds {size}")
                self._next, self._end = first, first + size
            first = self._next
            self._next += count
            return first


def unless_empty(column: list[Any]) -> list[Any] | None:
    """NULL for a column with nothing in it (most devices send no speed, battery, seq...):
    unnest pads a NULL array with NULLs, and asyncpg tests every element of an array it
    encodes against collection ABCs, a Python-level isinstance each."""
    return column if any(v is not None for v in column) else None


async def store_pings(conn: Conn, *, batch: PingBatch, first_id: int) -> dict[int, int]:
    """Many persons' pings, numbered from `first_id` by their place in the batch, in one
    statement that commits on its own; {place in the batch: ping id} of the new ones."""
    try:
        await copy_pings(conn, batch=batch, first_id=first_id)
    except asyncpg.UniqueViolationError:  # a duplicate: nothing of the COPY was stored
        metrics.COPY_DUPLICATES.inc()
        return await insert_pings(conn, batch=batch, first_id=first_id)
    return {place: first_id + place for place in range(len(batch))}


async def copy_pings(conn: Conn, *, batch: PingBatch, first_id: int) -> None:
    """Plain pings as binary COPY data built a column at a time (pings.copy), any other batch
    through asyncpg's row-by-row encoder."""
    data = plain_copy(batch, first_id)
    if data is None:
        await conn.copy_records_to_table(
            "pings", records=copy_records(batch, first_id), columns=COLUMNS
        )
    else:  # asyncpg takes bytes for a path, any other buffer as the data (its stub omits it)
        source: Any = memoryview(data)
        await conn.copy_to_table("pings", source=source, columns=COLUMNS, format="binary")


def column_values(batch: PingBatch) -> tuple[list[Any], ...]:
    """The batch's columns as Python values in COLUMNS' order after id, NULL as None; the fix
    time as epoch microseconds."""
    count = len(batch)
    stored = batch.stored or Stored(
        [None] * count, [None] * count, [None] * count, [None] * count, ["wgs84"] * count,
        [None] * count,
    )  # fmt: skip
    battery = batch.battery_pct
    return (
        batch.device_ids,
        batch.person_ids.tolist(),
        batch.ts_us.tolist(),
        batch.lat.tolist(),
        batch.lon.tolist(),
        batch.accuracy_m.tolist(),
        stored.speed_mps,
        stored.heading_deg,
        nan_to_none(battery),
        (batch.flags & CHECKIN).astype(bool).tolist(),
        (batch.flags & TAMPER).astype(bool).tolist(),
        stored.source,
        stored.seq,
        stored.crs_in,
        stored.attrs,
    )


def copy_records(batch: PingBatch, first_id: int) -> list[tuple[Any, ...]]:
    """COPY's rows, in COLUMNS' order; the fix time as the datetime asyncpg encodes."""
    (device, person, ts_us, lat, lon, accuracy, speed, heading, battery, checkin, tamper, source,
     seq, crs_in, attrs) = column_values(batch)  # fmt: skip
    ids = range(first_id, first_id + len(batch))
    times = [EPOCH + t * MICROSECOND for t in ts_us]  # pings.clock.us_to_dt, inlined
    return list(
        zip(ids, device, person, times, lat, lon, accuracy, speed, heading, battery, checkin,
            tamper, source, seq, crs_in, attrs, strict=True)
    )  # fmt: skip


async def insert_pings(conn: Conn, *, batch: PingBatch, first_id: int) -> dict[int, int]:
    """Like store_pings, by INSERT: duplicates, of stored pings or within the batch, are
    skipped."""
    (device, person, ts_us, lat, lon, accuracy, speed, heading, battery, checkin, tamper, source,
     seq, crs_in, attrs) = column_values(batch)  # fmt: skip
    columns = (
        device,
        person,
        ts_us,  # bigint[], cheaper than timestamptz[]: docs/decisions/0020
        lat,
        lon,
        accuracy,
        unless_empty(speed),
        unless_empty(heading),
        unless_empty(battery),
        unless_empty([c or None for c in checkin]),
        unless_empty([t or None for t in tamper]),
        unless_empty(source),
        unless_empty(seq),
        unless_empty([None if c == "wgs84" else c for c in crs_in]),
        unless_empty(attrs),
    )
    inserted = await conn.fetch(INSERT_PINGS, first_id, *columns)
    return {ping_id - first_id: ping_id for (ping_id,) in inserted}
