"""Monitoring orders about to lapse (ARCHITECTURE §8): a notice to the person's supervisors.

An electronic-positioning order covers at most three months and must be renewed by the
county-level bureau before it ends; without a live order the person's pings are refused and
nothing is tracked. So, `notice` before an order ends, its jurisdiction's officers get an
`order.lapsing` event, once per order, unless an order that carries on past its end is
already in place (renewed). A renewal made after the notice needs no further word.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from alerts import outbox
from alerts.models import EventType, NewEvent
from pings.pg import Conn

# live orders ending within the notice, with no live order of the kind that carries on from
# their end (an information check carrying on is no renewal of a positioning order: each kind
# is its own approval)
LAPSING = """
SELECT o.id, o.person_id, o.kind, o.starts_at, o.ends_at, p.case_number, p.jurisdiction_id,
       j.path AS jurisdiction_path
FROM monitoring_orders o
JOIN persons p ON p.id = o.person_id
JOIN jurisdictions j ON j.id = p.jurisdiction_id
WHERE o.revoked_at IS NULL AND o.ends_at > $1 AND o.ends_at <= $1 + $2::interval
  AND j.path LIKE $3 || '%'
  AND NOT EXISTS (SELECT 1 FROM monitoring_orders r
                  WHERE r.person_id = o.person_id AND r.kind = o.kind AND r.id <> o.id
                    AND r.revoked_at IS NULL
                    AND r.starts_at <= o.ends_at AND r.ends_at > o.ends_at)
"""
UNNOTICED = (
    LAPSING
    + """
  AND o.lapse_noticed_at IS NULL
ORDER BY o.ends_at, o.id LIMIT 1000
FOR UPDATE OF o SKIP LOCKED
"""
)
MARK = "UPDATE monitoring_orders SET lapse_noticed_at = $2 WHERE id = ANY($1::bigint[])"


def wire(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "order_id": row["id"],
        "person_id": row["person_id"],
        "case_number": row["case_number"],
        "jurisdiction_id": row["jurisdiction_id"],
        "kind": row["kind"],
        "starts_at": row["starts_at"].isoformat(),
        "ends_at": row["ends_at"].isoformat(),
    }


async def notice_lapsing(conn: Conn, *, now: datetime, notice: timedelta) -> list[int]:
    """One order.lapsing event per order entering its notice period; answers the event ids."""
    async with conn.transaction():
        rows = await conn.fetch(UNNOTICED, now, notice, "")
        if not rows:
            return []
        await conn.execute(MARK, [r["id"] for r in rows], now)
        events = [
            NewEvent(
                EventType.ORDER_LAPSING,
                r["person_id"],
                r["jurisdiction_id"],
                r["jurisdiction_path"],
                wire(r),
            )
            for r in rows
        ]
        return await outbox.append_events(conn, events=events)


async def lapsing(
    conn: Conn, *, now: datetime, notice: timedelta, under_path: str
) -> list[dict[str, Any]]:
    """The orders in a jurisdiction's subtree that lapse within the notice, soonest first."""
    rows = await conn.fetch(LAPSING + " ORDER BY o.ends_at, o.id", now, notice, under_path)
    return [wire(r) for r in rows]
