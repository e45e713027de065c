"""SQL for the officer's alert list: filters, the three orders, and what a triage row shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from alerts.levels import LEVELS
from alerts.models import AlertStatus, AlertType
from alerts.store import ASSIGNEE_JOIN, FOLLOWUP_COLUMNS, FOLLOWUP_DUE
from pings.pg import Conn


class AlertSort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    SEVERITY = "severity"


# Severity, most urgent first: the type's urgency (gone, or where they must not be, or the
# band cut off: 3; a rule broken in place or the signal gone: 2; a check-in missed: 1; a
# battery running low: 0), then the escalation rung reached (ministry, province, city, district,
# street), then the longest waiting.
TYPE_URGENCY = {
    AlertType.OUT_OF_AREA: 3,
    AlertType.EXCLUSION_ZONE: 3,
    AlertType.TAMPER: 3,
    AlertType.DEVICE_SEPARATION: 3,
    AlertType.OVERDUE_RETURN: 2,
    AlertType.CURFEW: 2,
    AlertType.SIGNAL_LOST: 2,
    AlertType.MISSED_CHECKIN: 1,
    AlertType.LOW_BATTERY: 0,
}
WHENS = " ".join(f"WHEN '{t.value}' THEN {n}" for t, n in TYPE_URGENCY.items())
URGENCY = f"CASE a.type {WHENS} ELSE 0 END"  # enum values only: no request text
RUNG_WHENS = " ".join(f"WHEN '{level}' THEN {n}" for n, level in enumerate(LEVELS) if n)
RUNG = f"CASE a.escalation_level {RUNG_WHENS} ELSE 0 END"  # level names only: no request text
ORDER_BY = {
    AlertSort.NEWEST: "a.opened_at DESC, a.id DESC",
    AlertSort.OLDEST: "a.opened_at, a.id",
    AlertSort.SEVERITY: f"{URGENCY} DESC, {RUNG} DESC, a.opened_at, a.id",
}

TRIAGE_SELECT = f"""
SELECT a.id, a.person_id, p.case_number, a.jurisdiction_id, j.path AS jurisdiction_path, a.type,
       a.rule_key, a.status, a.escalation_level, a.late, a.episode_id, a.opened_at,
       a.last_evidence_at, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by,
       a.disposition, a.note, a.evidence_ping_ids, a.details, {FOLLOWUP_COLUMNS},
       nullif(p.full_name, '') AS full_name, j.name AS jurisdiction_name, p.supervision_level,
       ps.last_ts AS last_fix_at, a.details ->> 'returned_at' AS returned_at
FROM alerts a JOIN persons p ON p.id = a.person_id JOIN jurisdictions j ON j.id = a.jurisdiction_id
LEFT JOIN person_state ps ON ps.person_id = a.person_id {ASSIGNEE_JOIN}
WHERE j.path LIKE $1 || '%'
  AND ($2::text[] IS NULL OR a.status = ANY($2)) AND ($3::text[] IS NULL OR a.type = ANY($3))
  AND ($4::bigint IS NULL OR a.person_id = $4)
  AND ($5::timestamptz IS NULL OR a.opened_at >= $5)
  AND ($6::timestamptz IS NULL OR a.opened_at < $6)
  AND ($7::bigint IS NULL OR a.assigned_to = $7) AND (NOT $8::boolean OR a.assigned_to IS NULL)
  AND ($9::boolean IS NULL OR {FOLLOWUP_DUE} = $9)
"""
# one statement per order, chosen by the enum: no text from a request reaches the SQL
LIST_TRIAGE = {
    sort: TRIAGE_SELECT + f"ORDER BY {order} LIMIT $10 OFFSET $11"
    for sort, order in ORDER_BY.items()
}


@dataclass(frozen=True)
class AlertFilter:
    under_path: str
    status: list[AlertStatus] | None = None
    type: list[AlertType] | None = None
    person_id: int | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    sort: AlertSort = AlertSort.NEWEST
    assigned_to: int | None = None  # this officer's
    unassigned: bool = False  # nobody's
    followup_due: bool | None = None


async def list_triage(
    conn: Conn, *, where: AlertFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Alert rows with the person, office and last fix beside each; returned_at is when a
    person.returned closed the episode (the evaluator records it in details)."""
    rows = await conn.fetch(
        LIST_TRIAGE[where.sort],
        where.under_path,
        None if where.status is None else [s.value for s in where.status],
        None if where.type is None else [t.value for t in where.type],
        where.person_id,
        where.opened_from,
        where.opened_to,
        where.assigned_to,
        where.unassigned,
        where.followup_due,
        limit,
        offset,
    )
    return [dict(r) for r in rows]


JURISDICTION_PATH = "SELECT path FROM jurisdictions WHERE id = $1"


async def jurisdiction_path(conn: Conn, *, jurisdiction_id: int) -> str | None:
    path: str | None = await conn.fetchval(JURISDICTION_PATH, jurisdiction_id)
    return path
