"""The monthly roster each office reconciles: intake, orders begun and ended, who was under a
monitoring order at the month's first and last instant, and who moved between offices while
under one, so that for every office

    under_order_at_start + placed + transferred_in - transferred_out - released
        = under_order_at_end.

A person counts in the office they belonged to at each instant: their office now, and before
each transfer (执行地变更) person_history records (migration 0020), that transfer's old office.
A transfer at an instant has taken effect at it, as an order begun at it is in force.
"""

from __future__ import annotations

from typing import Any

from monitor.reports.queries import Scope
from pings.pg import Conn

# live at instant t: begun, not yet ended, not revoked by then
LIVE_AT = """EXISTS (SELECT 1 FROM monitoring_orders o WHERE o.person_id = p.id
    AND o.starts_at <= {t} AND {t} < o.ends_at AND (o.revoked_at IS NULL OR o.revoked_at > {t}))"""
MOVED = "h.person_id = p.id AND h.changes ? 'jurisdiction_id'"


def office_at(t: str) -> str:
    """Person p's office at instant t: the old office of their first transfer after t, or,
    with none, their office now."""
    return f"""coalesce((SELECT (h.changes->'jurisdiction_id'->>'old')::bigint
    FROM person_history h WHERE {MOVED} AND h.at > {t} ORDER BY h.at, h.id LIMIT 1),
    p.jurisdiction_id)"""


# the persons who ever belonged within reach: there now, or moved at some time
SCOPED = f"""
SELECT p.* FROM persons p JOIN jurisdictions pj ON pj.id = p.jurisdiction_id
WHERE pj.path LIKE $1 || '%' OR EXISTS (SELECT 1 FROM person_history h WHERE {MOVED})
"""
PEOPLE = f"""
SELECT p.id, p.created_at >= $2 AS created_in_month, {office_at("p.created_at")} AS created_in,
       {office_at("$2")} AS office_at_start, {office_at("$3")} AS office_at_end,
       {LIVE_AT.format(t="$2")} AS at_start, {LIVE_AT.format(t="$3")} AS at_end
FROM scoped p WHERE p.created_at < $3
"""
# moves in the month of a person under an order at that instant
TRANSFERS = f"""
SELECT h.person_id, (h.changes->'jurisdiction_id'->>'old')::bigint AS from_office,
       (h.changes->'jurisdiction_id'->>'new')::bigint AS to_office
FROM scoped p JOIN person_history h ON {MOVED}
WHERE h.at > $2 AND h.at <= $3 AND {LIVE_AT.format(t="h.at")}
"""
# Each person's change under an order in an office that no transfer explains: at the end,
# less at the start, less transfers in, plus transfers out. More than nothing: placed there;
# less: released there. So the identity holds for every office by construction, and without
# transfers `placed` is "under an order at the end, not at the start", as before.
NET = """
SELECT office, person_id, sum(n) AS n FROM (
    SELECT office_at_end AS office, id AS person_id, 1 AS n FROM people WHERE at_end
    UNION ALL SELECT office_at_start, id, -1 FROM people WHERE at_start
    UNION ALL SELECT to_office, person_id, -1 FROM transfers
    UNION ALL SELECT from_office, person_id, 1 FROM transfers
) moves GROUP BY 1, 2
"""
# orders begun, run out and revoked in the month, in the office of the moment
ORDER_EVENTS = f"""
SELECT {office_at("o.starts_at")} AS office, 'orders_started' AS what, 1 AS n
FROM monitoring_orders o JOIN scoped p ON p.id = o.person_id
WHERE o.starts_at >= $2 AND o.starts_at < $3
UNION ALL
SELECT {office_at("o.ends_at")}, 'orders_ended', 1
FROM monitoring_orders o JOIN scoped p ON p.id = o.person_id
WHERE o.ends_at >= $2 AND o.ends_at < $3 AND (o.revoked_at IS NULL OR o.revoked_at >= o.ends_at)
UNION ALL
SELECT {office_at("o.revoked_at")}, 'orders_revoked', 1
FROM monitoring_orders o JOIN scoped p ON p.id = o.person_id
WHERE o.revoked_at >= $2 AND o.revoked_at < $3 AND o.revoked_at < o.ends_at
"""
TALLY = """
SELECT created_in AS office, 'persons_created' AS what, 1 AS n FROM people WHERE created_in_month
UNION ALL SELECT office_at_start, 'under_order_at_start', 1 FROM people WHERE at_start
UNION ALL SELECT office_at_end, 'under_order_at_end', 1 FROM people WHERE at_end
UNION ALL SELECT office_at_end, 'persons_on_record', 1 FROM people
UNION ALL SELECT to_office, 'transferred_in', 1 FROM transfers
UNION ALL SELECT from_office, 'transferred_out', 1 FROM transfers
UNION ALL SELECT office, 'placed', n FROM net WHERE n > 0
UNION ALL SELECT office, 'released', -n FROM net WHERE n < 0
UNION ALL SELECT office, what, n FROM order_events
"""
COLUMNS = (
    "persons_created", "orders_started", "orders_ended", "orders_revoked",
    "under_order_at_start", "placed", "transferred_in", "transferred_out", "released",
    "under_order_at_end", "persons_on_record",
)  # fmt: skip
FIGURES = ",\n       ".join(
    f"coalesce(sum(t.n) FILTER (WHERE t.what = '{c}'), 0)::integer AS {c}" for c in COLUMNS
)
ROSTER = f"""
WITH scoped AS ({SCOPED}), people AS ({PEOPLE}), transfers AS ({TRANSFERS}), net AS ({NET}),
     order_events AS ({ORDER_EVENTS}), tally AS ({TALLY})
SELECT j.id AS jurisdiction_id, j.name AS jurisdiction_name, j.level,
       {FIGURES}
FROM jurisdictions j LEFT JOIN tally t ON t.office = j.id
WHERE j.path LIKE $1 || '%'
GROUP BY j.id, j.name, j.level, j.path ORDER BY j.path
"""


async def monthly_roster(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    found = await conn.fetch(ROSTER, scope.under_path, scope.start, scope.end)
    return [dict(r) for r in found]
