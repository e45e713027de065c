"""SQL of the ingest path: device lookup, monitoring orders, and the durable ping insert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ingest.models import Device, Ping

Conn = asyncpg.Connection | PoolConnectionProxy

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


ORDER_WINDOWS = """
SELECT starts_at, ends_at FROM monitoring_orders
WHERE person_id = $1 AND revoked_at IS NULL AND ends_at > now() - interval '400 days'
"""


async def order_windows(conn: Conn, *, person_id: int) -> list[tuple[datetime, datetime]]:
    return [(r["starts_at"], r["ends_at"]) for r in await conn.fetch(ORDER_WINDOWS, person_id)]


# Duplicates (same device, fix time and position) are stored once: the primary key is
# (person_id, ts, device_id, lat, lon), the same rule since a device never changes person
# (migrations/0005). The answer names each new
# row by its place in the input: matching rows back by (device, ts, lat, lon) keys in Python
# cost more CPU than the insert itself on a batched load. A ping repeated within the input is
# new only at its first place.
INSERT_PINGS = """
WITH input AS (
    SELECT device_id, person_id, 'epoch'::timestamptz + ts_us * interval '1 microsecond' AS ts,
           lat, lon, accuracy_m, speed_mps, heading_deg, battery_pct, checkin, tamper, source,
           seq, crs_in, attrs, n
    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[],
                $5::float8[], $6::real[], $7::real[], $8::real[], $9::real[],
                $10::bool[], $11::bool[], $12::text[], $13::bigint[], $14::text[],
                $15::jsonb[]) WITH ORDINALITY
        AS u(device_id, person_id, ts_us, lat, lon, accuracy_m, speed_mps, heading_deg,
             battery_pct, checkin, tamper, source, seq, crs_in, attrs, n)
), inserted AS (
    INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m, speed_mps, heading_deg,
                       battery_pct, checkin, tamper, source, seq, crs_in, attrs)
    SELECT device_id, person_id, ts, lat, lon, accuracy_m, speed_mps, heading_deg,
           battery_pct, coalesce(checkin, false), coalesce(tamper, false), source, seq,
           coalesce(crs_in, 'wgs84'), attrs
    FROM input ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING id, device_id, ts, lat, lon
)
SELECT DISTINCT ON (i.id) i.id, u.n - 1 AS place
FROM inserted i JOIN input u USING (device_id, ts, lat, lon)
ORDER BY i.id, u.n
"""


def unless_empty(column: list[Any]) -> list[Any] | None:
    """NULL for a column with nothing in it (most devices send no speed, battery, seq...):
    unnest pads a NULL array with NULLs, and asyncpg tests every element of an array it
    encodes against collection ABCs, a Python-level isinstance each."""
    return column if any(v is not None for v in column) else None


async def insert_pings(conn: Conn, *, rows: list[tuple[int, Ping]]) -> dict[int, int]:
    """One statement for many persons' pings; {place in `rows`: ping id} of the new ones."""
    pings = [p for _, p in rows]
    columns = (
        [p.device_id for p in pings],
        [person_id for person_id, _ in rows],
        [p.ts_us for p in pings],  # bigint[]: ~0.2 µs an element, a timestamptz[] ~0.9
        [p.lat for p in pings],
        [p.lon for p in pings],
        [p.accuracy_m for p in pings],
        unless_empty([p.speed_mps for p in pings]),
        unless_empty([p.heading_deg for p in pings]),
        unless_empty([p.battery_pct for p in pings]),
        unless_empty([p.checkin or None for p in pings]),
        unless_empty([p.tamper or None for p in pings]),
        unless_empty([p.source for p in pings]),
        unless_empty([p.seq for p in pings]),
        unless_empty([None if p.crs_in == "wgs84" else p.crs_in for p in pings]),
        unless_empty([p.attrs for p in pings]),
    )
    return {place: ping_id for ping_id, place in await conn.fetch(INSERT_PINGS, *columns)}
