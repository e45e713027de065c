"""SQL of the reports: every statement takes the subtree path first ($1) and a half-open
period ($2, $3), so no report reads past the officer's jurisdiction or its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pings.pg import Conn

# the jurisdiction an alert was raised under (the person's office at the time)
IN_REACH = "JOIN jurisdictions j ON j.id = a.jurisdiction_id WHERE j.path LIKE $1 || '%'"
OPENED_IN = "a.opened_at >= $2 AND a.opened_at < $3"

ALERTS_BY_DAY = f"""
SELECT (a.opened_at AT TIME ZONE $4)::date AS day, a.jurisdiction_id,
       j.name AS jurisdiction_name, a.type, count(*) AS alerts
FROM alerts a {IN_REACH} AND {OPENED_IN}
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4
"""

# From when the alert reached the system (created_at), not opened_at: an excursion proven by
# a late upload opens at the old fix time, and its hours offline are no officer's delay.
# percentile_cont interpolates (numpy's default); ordered-set aggregates skip NULLs.
SECONDS_TO_ACK = "extract(epoch FROM a.acknowledged_at - a.created_at)::float8"
SECONDS_TO_RESOLVE = "extract(epoch FROM a.resolved_at - a.created_at)::float8"
BY_OFFICER = "FILTER (WHERE a.resolved_by IS NOT NULL)"
RESPONSE_TIMES = f"""
SELECT a.type, a.jurisdiction_id, j.name AS jurisdiction_name, count(*) AS alerts,
       count(a.acknowledged_at) AS acknowledged,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {SECONDS_TO_ACK}) AS ack_median_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY {SECONDS_TO_ACK}) AS ack_p90_s,
       count(*) {BY_OFFICER} AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY {SECONDS_TO_RESOLVE}) {BY_OFFICER}
           AS resolve_median_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY {SECONDS_TO_RESOLVE}) {BY_OFFICER}
           AS resolve_p90_s,
       count(*) FILTER (WHERE a.resolved_at IS NOT NULL AND a.resolved_by IS NULL)
           AS resolved_by_system
FROM alerts a {IN_REACH} AND {OPENED_IN}
GROUP BY 1, 2, 3 ORDER BY 2, 1
"""

DISPOSITIONS = f"""
SELECT a.jurisdiction_id, j.name AS jurisdiction_name, a.disposition, count(*) AS alerts
FROM alerts a {IN_REACH} AND a.resolved_at >= $2 AND a.resolved_at < $3
  AND a.disposition IS NOT NULL
GROUP BY 1, 2, 3 ORDER BY 1, 3
"""

# Away from the allowed area: out_of_area (no permit) and overdue_return (a permit over, not
# back), every episode overlapping the period. Back: what the evaluator merged into the open
# alert when the person was judged inside again, or the close of the overdue permit (销假).
SWEEP = f"""
SELECT a.id AS alert_id, a.type, a.person_id, p.case_number, nullif(p.full_name, '') AS full_name,
       a.jurisdiction_id, j.name AS jurisdiction_name, a.opened_at AS left_at, s.back_at,
       extract(epoch FROM coalesce(s.back_at, $4) - a.opened_at)::float8 AS away_s,
       a.late, a.status, a.disposition
FROM alerts a JOIN persons p ON p.id = a.person_id
CROSS JOIN LATERAL (
    SELECT coalesce((a.details ->> 'returned_at')::timestamptz,
                    (SELECT min(l.closed_at) FROM leave_permits l WHERE l.overdue_alert_id = a.id))
           AS back_at
) s
{IN_REACH} AND a.type IN ('out_of_area', 'overdue_return')
  AND a.opened_at < $3 AND (s.back_at IS NULL OR s.back_at > $2)
ORDER BY a.opened_at, a.id LIMIT $5
"""


@dataclass(frozen=True)
class Scope:
    """What every report reads: the subtree and [start, end)."""

    under_path: str
    start: datetime
    end: datetime


async def rows(conn: Conn, sql: str, scope: Scope, *args: Any) -> list[dict[str, Any]]:
    found = await conn.fetch(sql, scope.under_path, scope.start, scope.end, *args)
    return [dict(r) for r in found]


async def alerts_by_day(conn: Conn, scope: Scope, *, tz: str) -> list[dict[str, Any]]:
    return await rows(conn, ALERTS_BY_DAY, scope, tz)


async def response_times(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    return await rows(conn, RESPONSE_TIMES, scope)


async def dispositions(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    return await rows(conn, DISPOSITIONS, scope)


async def holiday_sweep(
    conn: Conn, scope: Scope, *, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """Episodes still going are measured to `now` (back_at null)."""
    return await rows(conn, SWEEP, scope, now, limit)
