"""SQL of leave permits for the evaluator and the timers: close on return, alert when overdue."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from pings.pg import Conn

CLOSE_PERMITS = """
UPDATE leave_permits SET returned_at = $2, closed_at = $2
WHERE person_id = $1 AND closed_at IS NULL AND cancelled_at IS NULL AND starts_at <= $2
RETURNING overdue_alert_id
"""


async def close_permits(conn: Conn, *, person_id: int, at: datetime) -> list[int]:
    """Close (销假) every begun permit of a person judged back; the overdue alerts among them."""
    rows = await conn.fetch(CLOSE_PERMITS, person_id, at)
    return [r["overdue_alert_id"] for r in rows if r["overdue_alert_id"] is not None]


# ended, grace over, never closed nor alerted; the evaluator's state says where the person is
ENDED = """
SELECT l.id, l.person_id, l.ends_at, l.grace_s, l.destination,
       coalesce(s.state->'area'->>'status', 'inside') AS status
FROM leave_permits l LEFT JOIN person_state s ON s.person_id = l.person_id
WHERE l.closed_at IS NULL AND l.cancelled_at IS NULL AND l.overdue_alert_id IS NULL
  AND l.ends_at + make_interval(secs => l.grace_s) <= $1
ORDER BY l.ends_at, l.id LIMIT 1000
"""
MARK_OVERDUE = "UPDATE leave_permits SET overdue_alert_id = $2 WHERE id = $1"
CLOSE_ENDED = "UPDATE leave_permits SET closed_at = $2 WHERE id = $1"


async def ended_permits(conn: Conn, *, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(ENDED, now)


async def mark_overdue(conn: Conn, *, permit_id: int, alert_id: int) -> None:
    await conn.execute(MARK_OVERDUE, permit_id, alert_id)


async def close_ended(conn: Conn, *, permit_id: int, at: datetime) -> None:
    await conn.execute(CLOSE_ENDED, permit_id, at)
