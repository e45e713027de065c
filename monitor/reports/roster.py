"""The monthly roster each office reconciles: intake, orders begun and ended, and who was
under a monitoring order at the month's first and last instant, so that
under_order_at_start + placed - released = under_order_at_end holds for every office.

A person counts under their current jurisdiction: a transfer between offices is not
recorded anywhere yet, so a person moved by hand counts wholly in the new office.
"""

from __future__ import annotations

from typing import Any

from monitor.reports.queries import Conn, Scope

# live at instant t: begun, not yet ended, not revoked by then
LIVE_AT = """EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = p.id
    AND o.starts_at <= {t} AND {t} < o.ends_at AND (o.revoked_at IS NULL OR o.revoked_at > {t}))"""
PEOPLE = f"""
SELECT p.id, p.jurisdiction_id, p.created_at >= $2 AS created_in_month,
       {LIVE_AT.format(t="$2")} AS at_start, {LIVE_AT.format(t="$3")} AS at_end
FROM persons p JOIN jurisdictions pj ON pj.id = p.jurisdiction_id
WHERE p.created_at < $3 AND pj.path LIKE $1 || '%'
"""
ORDERS = """
SELECT p.jurisdiction_id,
       count(*) FILTER (WHERE o.starts_at >= $2 AND o.starts_at < $3) AS orders_started,
       count(*) FILTER (WHERE o.ends_at >= $2 AND o.ends_at < $3
                        AND (o.revoked_at IS NULL OR o.revoked_at >= o.ends_at)) AS orders_ended,
       count(*) FILTER (WHERE o.revoked_at >= $2 AND o.revoked_at < $3
                        AND o.revoked_at < o.ends_at) AS orders_revoked
FROM monitoring_orders o JOIN persons p ON p.id = o.person_id
JOIN jurisdictions pj ON pj.id = p.jurisdiction_id WHERE pj.path LIKE $1 || '%'
GROUP BY 1
"""
ROSTER = f"""
WITH people AS ({PEOPLE}), orders AS ({ORDERS})
SELECT j.id AS jurisdiction_id, j.name AS jurisdiction_name, j.level,
       count(pe.id) FILTER (WHERE pe.created_in_month) AS persons_created,
       coalesce(min(o.orders_started), 0) AS orders_started,
       coalesce(min(o.orders_ended), 0) AS orders_ended,
       coalesce(min(o.orders_revoked), 0) AS orders_revoked,
       count(pe.id) FILTER (WHERE pe.at_start) AS under_order_at_start,
       count(pe.id) FILTER (WHERE pe.at_end AND NOT pe.at_start) AS placed,
       count(pe.id) FILTER (WHERE pe.at_start AND NOT pe.at_end) AS released,
       count(pe.id) FILTER (WHERE pe.at_end) AS under_order_at_end,
       count(pe.id) AS persons_on_record
FROM jurisdictions j
LEFT JOIN people pe ON pe.jurisdiction_id = j.id
LEFT JOIN orders o ON o.jurisdiction_id = j.id
WHERE j.path LIKE $1 || '%'
GROUP BY j.id, j.name, j.level, j.path ORDER BY j.path
"""


async def monthly_roster(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    found = await conn.fetch(ROSTER, scope.under_path, scope.start, scope.end)
    return [dict(r) for r in found]
