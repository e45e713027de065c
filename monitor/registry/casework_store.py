"""SQL of a person's casework: change the record, keep its history, end the supervision.

Every statement here runs inside the route's transaction, after the person's row is locked,
so two officers' changes to one person are applied one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from pings.pg import Conn

LOCK_PERSON = "SELECT revision FROM persons WHERE id = $1 FOR UPDATE"


async def lock_person(conn: Conn, *, person_id: int) -> int | None:
    """The person's revision, the row locked to commit; None if there is no such person."""
    revision: int | None = await conn.fetchval(LOCK_PERSON, person_id)
    return revision


# fields not given are passed as NULL and keep their value (a patch never sets a NULL)
UPDATE_PERSON = """
UPDATE persons SET case_number = coalesce($2, case_number), full_name = coalesce($3, full_name),
       supervision_level = coalesce($4, supervision_level),
       jurisdiction_id = coalesce($5, jurisdiction_id), timezone = coalesce($6, timezone)
WHERE id = $1
"""
SCALARS = ("case_number", "full_name", "supervision_level", "jurisdiction_id", "timezone")


async def update_person(conn: Conn, *, person_id: int, changes: dict[str, Any]) -> None:
    """Raises asyncpg.UniqueViolationError when the new case number is another person's."""
    await conn.execute(UPDATE_PERSON, person_id, *(changes.get(k) for k in SCALARS))


DROP_FENCES = """
DELETE FROM person_fences pf USING fences f
WHERE pf.person_id = $1 AND f.id = pf.fence_id AND f.role = $2 AND pf.fence_id <> ALL($3::bigint[])
"""
ADD_FENCES = """
INSERT INTO person_fences (person_id, fence_id) SELECT $1, unnest($2::bigint[])
ON CONFLICT DO NOTHING
"""


async def set_fences(conn: Conn, *, person_id: int, role: str, fence_ids: list[int]) -> None:
    """The person's fences of this role become exactly these (the triggers of migration 0006
    move the person's revision, so the evaluators re-read them)."""
    await conn.execute(DROP_FENCES, person_id, role, fence_ids)
    await conn.execute(ADD_FENCES, person_id, fence_ids)


CURFEW_FENCES = """
SELECT DISTINCT (params->>'fence_id')::bigint AS fence_id FROM person_rules
WHERE person_id = $1 AND active AND kind = 'curfew' ORDER BY 1
"""


async def curfew_fence_ids(conn: Conn, *, person_id: int) -> list[int]:
    return [r["fence_id"] for r in await conn.fetch(CURFEW_FENCES, person_id)]


# the evaluator locks a person's state before it touches their alerts; so do we, or a transfer
# and an evaluation updating two alerts in opposite orders could deadlock
LOCK_STATE = "SELECT 1 FROM person_state WHERE person_id = $1 FOR UPDATE"

# an assignee who cannot see the new office loses the alert: the new office assigns it again
MOVE_ALERTS = """
WITH moving AS (
    SELECT a.id, a.assigned_to IS NULL OR starts_with(target.path, j.path) AS keeps
    FROM alerts a
    CROSS JOIN (SELECT path FROM jurisdictions WHERE id = $2) target
    LEFT JOIN officers o ON o.id = a.assigned_to
    LEFT JOIN jurisdictions j ON j.id = o.jurisdiction_id
    WHERE a.person_id = $1 AND a.status <> 'resolved'
)
UPDATE alerts a SET jurisdiction_id = $2, updated_at = now(),
    assigned_to = CASE WHEN m.keeps THEN a.assigned_to END,
    assigned_at = CASE WHEN m.keeps THEN a.assigned_at END
FROM moving m WHERE a.id = m.id RETURNING a.id
"""


async def move_open_alerts(conn: Conn, *, person_id: int, jurisdiction_id: int) -> list[int]:
    """Unresolved alerts follow the person to the new office, which sees and escalates them
    (an assignee who cannot see that office is taken off); resolved ones stay on the record of
    the office that handled them."""
    await conn.execute(LOCK_STATE, person_id)
    return sorted(r["id"] for r in await conn.fetch(MOVE_ALERTS, person_id, jurisdiction_id))


JURISDICTION_NAME = "SELECT name FROM jurisdictions WHERE id = $1"


async def jurisdiction_name(conn: Conn, *, jurisdiction_id: int) -> str:
    name: str = await conn.fetchval(JURISDICTION_NAME, jurisdiction_id)
    return name


INSERT_HISTORY = """
INSERT INTO person_history (person_id, officer_id, action, changes, reason)
VALUES ($1, $2, $3, $4, $5) RETURNING id
"""


async def insert_history(
    conn: Conn,
    *,
    person_id: int,
    officer_id: int,
    action: str,
    changes: dict[str, dict[str, Any]],
    reason: str,
) -> int:
    history_id: int = await conn.fetchval(
        INSERT_HISTORY, person_id, officer_id, action, changes, reason
    )
    return history_id


LIST_HISTORY = """
SELECT id, person_id, at, officer_id, action, changes, reason FROM person_history
WHERE person_id = $1 ORDER BY id LIMIT $2 OFFSET $3
"""


async def list_history(
    conn: Conn, *, person_id: int, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_HISTORY, person_id, limit, offset)


# orders in force or still to come end now; the approved ends_at stays on record
REVOKE_ORDERS = """
UPDATE monitoring_orders SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
WHERE person_id = $1 AND revoked_at IS NULL AND ends_at > now() RETURNING id
"""
REVOKE_DEVICES = """
UPDATE devices SET revoked_at = now() WHERE person_id = $1 AND revoked_at IS NULL RETURNING id
"""
CANCEL_PERMITS = """
UPDATE leave_permits SET cancelled_at = now()
WHERE person_id = $1 AND closed_at IS NULL AND cancelled_at IS NULL RETURNING id
"""
CLOSE_ALERTS = """
UPDATE alerts SET status = 'resolved', resolved_at = now(), resolved_by = $2,
                  disposition = 'auto_cleared', note = $3, updated_at = now()
WHERE person_id = $1 AND status <> 'resolved' RETURNING id
"""
MARK_DISCHARGED = """
UPDATE persons SET discharged_at = now(), discharged_by = $2, discharge_date = $3,
                   discharge_reason = $4
WHERE id = $1 RETURNING discharged_at
"""


@dataclass(frozen=True)
class Ended:
    """What a discharge ended, by id."""

    order_ids: list[int]
    device_ids: list[str]
    permit_ids: list[int]
    alert_ids: list[int]


async def discharge(conn: Conn, *, person_id: int, officer_id: int, on: date, reason: str) -> Ended:
    """Orders revoked (ingest refuses later fixes), devices revoked (their credentials are
    refused), permits cancelled (no overdue_return), open alerts closed; the person marked,
    which moves the revision that the evaluators read."""
    note = f"discharged (解矫): {reason}"
    await conn.execute(LOCK_STATE, person_id)
    ended = Ended(
        order_ids=await ids(conn, REVOKE_ORDERS, person_id, officer_id, note),
        device_ids=await ids(conn, REVOKE_DEVICES, person_id),
        permit_ids=await ids(conn, CANCEL_PERMITS, person_id),
        alert_ids=await ids(conn, CLOSE_ALERTS, person_id, officer_id, note),
    )
    await conn.execute(MARK_DISCHARGED, person_id, officer_id, on, reason)
    return ended


async def ids(conn: Conn, sql: str, *args: Any) -> list[Any]:
    return sorted(r["id"] for r in await conn.fetch(sql, *args))
