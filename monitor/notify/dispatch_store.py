"""SQL of the notifier: read the event log after the cursor, make deliveries, claim the due
ones and keep every attempt's receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from pings.pg import Conn

# the row lock is held to commit: one dispatcher at a time, in every process
LOCK_CURSOR = "SELECT last_event_id FROM notification_cursor FOR UPDATE"
ADVANCE_CURSOR = "UPDATE notification_cursor SET last_event_id = $1"
# events commit in id order with the counter (alerts/store.py), so every id up to the
# counter's committed value is visible: none can appear later below it
LAST_COMMITTED = "SELECT last_id FROM event_counter"
NEWS = """
SELECT id, type, alert_id, jurisdiction_path, payload, created_at FROM events
WHERE id > $1 AND id <= $2 AND type = ANY($3::text[]) ORDER BY id LIMIT $4
"""


async def lock_cursor(conn: Conn) -> int:
    last: int = await conn.fetchval(LOCK_CURSOR)
    return last


async def advance_cursor(conn: Conn, *, to: int) -> None:
    await conn.execute(ADVANCE_CURSOR, to)


async def news(
    conn: Conn, *, after_id: int, types: list[str], limit: int
) -> tuple[list[asyncpg.Record], int]:
    """The events of `types` after `after_id`, and how far the cursor may move past them."""
    last: int = await conn.fetchval(LAST_COMMITTED)
    rows = await conn.fetch(NEWS, after_id, last, types, limit)
    return rows, (rows[-1]["id"] if len(rows) == limit else max(after_id, last))


# the office at the alert's rung: the ancestor-or-self of its jurisdiction at that level (any
# number of levels); $3: or else the alert's own office (a person registered at a district
# has alerts opened at the street rung, which no office of theirs is)
RUNG_OFFICE = """
SELECT id, name, level FROM jurisdictions
WHERE ($1 LIKE path || '%' AND level = $2) OR ($3 AND path = $1)
ORDER BY level = $2 DESC, length(path) DESC LIMIT 1
"""
OFFICE_CHANNELS = """
SELECT id FROM notification_channels
WHERE jurisdiction_id = $1 AND enabled AND $2 = ANY(events)
  AND (alert_types IS NULL OR $3 = ANY(alert_types))
ORDER BY id
"""


async def rung_office(
    conn: Conn, *, alert_path: str, rung: str, or_own: bool
) -> asyncpg.Record | None:
    return await conn.fetchrow(RUNG_OFFICE, alert_path, rung, or_own)


async def office_channels(conn: Conn, *, office_id: int, event: str, alert_type: str) -> list[int]:
    return [r["id"] for r in await conn.fetch(OFFICE_CHANNELS, office_id, event, alert_type)]


ON_DUTY = """
SELECT o.id, o.display_name, s.contact, s.id AS shift_id, s.starts_at, s.ends_at
FROM duty_shifts s JOIN officers o ON o.id = s.officer_id
WHERE s.jurisdiction_id = $1 AND s.cancelled_at IS NULL AND s.starts_at <= $2 AND $2 < s.ends_at
  AND NOT o.disabled
ORDER BY s.starts_at, s.id
"""


async def on_duty(conn: Conn, *, office_id: int, at: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(ON_DUTY, office_id, at)
    return [
        {
            "officer_id": r["id"],
            "display_name": r["display_name"],
            "contact": r["contact"],
            "shift_id": r["shift_id"],
            "shift_ends_at": r["ends_at"].isoformat(),
        }
        for r in rows
    ]


INSERT_DELIVERY = """
INSERT INTO notification_deliveries (channel_id, event_id, event_type, alert_id, payload,
                                     max_attempts)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, event_id) DO NOTHING RETURNING id
"""


async def insert_delivery(
    conn: Conn,
    *,
    channel_id: int,
    event_id: int | None,
    event_type: str,
    alert_id: int | None,
    payload: dict[str, Any],
    max_attempts: int,
) -> int | None:
    """The new delivery's id; None when this event was already given to this channel."""
    made: int | None = await conn.fetchval(
        INSERT_DELIVERY, channel_id, event_id, event_type, alert_id, payload, max_attempts
    )
    return made


# news of an alert opening or escalating is not sent once the alert is resolved (late after
# retries, or held while its channel was disabled): a duty officer would be paged for nothing.
# Only due deliveries are looked at, on the index of pending ones. $2: one delivery only.
SUPERSEDE = """
UPDATE notification_deliveries d SET status = 'superseded'
FROM alerts a
WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND ($2::bigint IS NULL OR d.id = $2)
  AND d.event_type IN ('alert.opened', 'alert.escalated')
  AND a.id = d.alert_id AND a.status = 'resolved'
RETURNING d.id
"""


async def supersede(conn: Conn, *, now: datetime, delivery_id: int | None = None) -> int:
    """Marks the due deliveries whose alert was resolved since; answers how many."""
    return len(await conn.fetch(SUPERSEDE, now, delivery_id))


# claimed deliveries are leased, not locked across the HTTP call: a sender that dies
# mid-call leaves them due again when the lease ends (receivers dedupe on the delivery id).
# $4: one delivery only (a channel's test), NULL: any due one.
CLAIM = """
UPDATE notification_deliveries d SET next_attempt_at = $1::timestamptz + make_interval(secs => $3)
FROM notification_channels c
WHERE c.id = d.channel_id AND d.id IN (
    SELECT x.id FROM notification_deliveries x JOIN notification_channels xc ON xc.id = x.channel_id
    WHERE x.status = 'pending' AND x.next_attempt_at <= $1 AND xc.enabled
      AND ($4::bigint IS NULL OR x.id = $4)
    ORDER BY x.next_attempt_at LIMIT $2 FOR UPDATE OF x SKIP LOCKED)
RETURNING d.id, d.event_type, d.payload, d.attempts, d.max_attempts, c.url, c.secret
"""


async def claim(
    conn: Conn, *, now: datetime, limit: int, lease_s: float, delivery_id: int | None = None
) -> list[asyncpg.Record]:
    return await conn.fetch(CLAIM, now, limit, lease_s, delivery_id)


INSERT_ATTEMPT = """
INSERT INTO notification_attempts (delivery_id, at, status_code, error, duration_ms)
VALUES ($1, $2, $3, $4, $5)
"""
SETTLE = """
UPDATE notification_deliveries SET attempts = attempts + 1, status = $2, next_attempt_at = $3,
       delivered_at = CASE WHEN $2 = 'delivered' THEN $4::timestamptz END
WHERE id = $1
"""


async def record_attempt(
    conn: Conn,
    *,
    delivery_id: int,
    at: datetime,
    status_code: int | None,
    error: str,
    duration_ms: float,
    status: str,
    next_attempt_at: datetime,
) -> None:
    async with conn.transaction():
        await conn.execute(INSERT_ATTEMPT, delivery_id, at, status_code, error, duration_ms)
        await conn.execute(SETTLE, delivery_id, status, next_attempt_at, at)
