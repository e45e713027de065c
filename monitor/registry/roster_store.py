"""SQL of the persons and devices lists (the console's roster): filters, a person's status,
and each device's latest fix.

A person's status, one value, most urgent first (docs/decisions/0013):
`tamper`  an unresolved tamper alert not cleared by a refit (details.cleared_at);
`outside` the evaluator's area status is outside (person_state.state->'area'->>'status');
`silent`  the timers marked the person silent (state key signal_lost_alert), or an
          unresolved signal_lost alert has no reconnected_at;
`inside`  located otherwise; `unknown` never located (no fix judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from alerts.silence import DEVICE_SILENT, SILENCE_JOINS
from pings.pg import Conn


class PersonStatus(StrEnum):
    TAMPER = "tamper"
    OUTSIDE = "outside"
    SILENT = "silent"
    INSIDE = "inside"
    UNKNOWN = "unknown"


class PersonSort(StrEnum):
    ID = "id"
    CASE_NUMBER = "case_number"
    LAST_FIX = "last_fix"  # longest unheard first, never located before all
    STATUS = "status"  # most urgent first, as PersonStatus lists them


UNRESOLVED = "SELECT 1 FROM alerts a WHERE a.person_id = p.id AND a.status <> 'resolved'"
STATUS = f"""CASE
    WHEN EXISTS ({UNRESOLVED} AND a.type = 'tamper' AND NOT a.details ? 'cleared_at')
        THEN 'tamper'
    WHEN ps.state -> 'area' ->> 'status' = 'outside' THEN 'outside'
    WHEN ps.state ? 'signal_lost_alert'
      OR EXISTS ({UNRESOLVED} AND a.type = 'signal_lost' AND NOT a.details ? 'reconnected_at')
        THEN 'silent'
    WHEN ps.last_ts IS NOT NULL THEN 'inside'
    ELSE 'unknown'
END"""
# the status order: unknown (never located) before inside, which needs no one's attention
URGENCY = [PersonStatus.TAMPER, PersonStatus.OUTSIDE, PersonStatus.SILENT, PersonStatus.UNKNOWN]
WHENS = " ".join(f"WHEN '{s.value}' THEN {n}" for n, s in enumerate(URGENCY))
STATUS_RANK = f"CASE r.status {WHENS} ELSE {len(URGENCY)} END"
PERSON_ORDER = {
    PersonSort.ID: "r.id",
    PersonSort.CASE_NUMBER: "r.case_number, r.id",
    PersonSort.LAST_FIX: "r.last_fix_at NULLS FIRST, r.id",
    PersonSort.STATUS: f"{STATUS_RANK}, r.case_number, r.id",
}
# the filters and status over the whole reach (a few columns a person), then the page, then
# the page's fences and open alerts
PERSON_ROWS = f"""
WITH r AS (
    SELECT p.id, p.case_number, p.full_name, p.supervision_level, p.jurisdiction_id, p.timezone,
           p.created_at, p.revision, p.discharged_at, p.discharge_date, p.discharge_reason,
           j.name AS jurisdiction_name, ps.last_ts AS last_fix_at, {STATUS} AS status
    FROM persons p JOIN jurisdictions j ON j.id = p.jurisdiction_id
    LEFT JOIN person_state ps ON ps.person_id = p.id
    WHERE j.path LIKE $1 || '%'
      AND ($2::text IS NULL OR p.case_number ILIKE $2 OR p.full_name ILIKE $2)
      AND ($3::text[] IS NULL OR p.supervision_level = ANY($3))
), page AS (
    SELECT r.* FROM r WHERE $4::text[] IS NULL OR r.status = ANY($4)
    ORDER BY {{order}} LIMIT $5 OFFSET $6
)
SELECT r.*,
       ARRAY(SELECT f.id FROM person_fences pf JOIN fences f ON f.id = pf.fence_id
             WHERE pf.person_id = r.id AND f.role = 'allowed' ORDER BY f.id) AS allowed_fence_ids,
       ARRAY(SELECT f.id FROM person_fences pf JOIN fences f ON f.id = pf.fence_id
             WHERE pf.person_id = r.id AND f.role = 'exclusion' ORDER BY f.id)
           AS exclusion_fence_ids,
       (SELECT count(*) FROM alerts a WHERE a.person_id = r.id AND a.status <> 'resolved')
           AS open_alerts
FROM page r ORDER BY {{order}}
"""
# one statement per order, chosen by the enum: no text from a request reaches the SQL
LIST_PERSON_ROWS = {sort: PERSON_ROWS.format(order=o) for sort, o in PERSON_ORDER.items()}


# The lists are a few index probes a row (a device's latest fix, its state row, its order):
# planned for a page of 1000 they cost past PostgreSQL's jit_above_cost, and compiling them
# took a second where running them takes tens of milliseconds (docs/decisions/0013).
NO_JIT = "SET LOCAL jit = off"


async def fetch_without_jit(conn: Conn, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with conn.transaction():  # a savepoint inside a caller's transaction
        await conn.execute(NO_JIT)
        return await conn.fetch(sql, *args)


def like_pattern(q: str | None) -> str | None:
    """`q` as an ILIKE pattern matching it anywhere, its own % _ and \\ taken literally."""
    if not q:
        return None
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class PersonFilter:
    under_path: str
    q: str | None = None
    supervision_level: Sequence[str] | None = None
    status: list[PersonStatus] | None = None
    sort: PersonSort = PersonSort.ID


async def list_person_rows(
    conn: Conn, *, where: PersonFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = await fetch_without_jit(
        conn,
        LIST_PERSON_ROWS[where.sort],
        where.under_path,
        like_pattern(where.q),
        where.supervision_level,
        None if where.status is None else [s.value for s in where.status],
        limit,
        offset,
    )
    return [dict(r) for r in rows]


# A device's latest fix: the last day's partitions first (where a reporting device's latest
# fix is), and only for a device not heard in a day all partitions; the Append stops at the
# first row, so the second branch runs only when the first found none. Both walk the pings'
# primary key (person_id, ts, ...) backwards: pings have no index on device_id alone.
LATEST_FIX = """
LEFT JOIN LATERAL (
    (SELECT g.ts, g.received_at, g.battery_pct, g.tamper FROM pings g
     WHERE g.person_id = d.person_id AND g.device_id = d.id AND g.ts >= now() - interval '1 day'
     ORDER BY g.ts DESC LIMIT 1)
    UNION ALL
    (SELECT g.ts, g.received_at, g.battery_pct, g.tamper FROM pings g
     WHERE g.person_id = d.person_id AND g.device_id = d.id AND g.ts < now() - interval '1 day'
     ORDER BY g.ts DESC LIMIT 1)
    LIMIT 1
) f ON true
"""
DEVICE_FIX_COLUMNS = """f.ts AS last_fix_at, f.received_at AS last_received_at, f.battery_pct,
       f.tamper"""
DEVICE_COLUMNS = """d.id, d.id AS device_id, d.person_id, d.kind, d.expected_interval_s,
       d.identifier_only, d.created_at, d.revoked_at, p.case_number, p.supervision_level,
       p.jurisdiction_id, j.name AS jurisdiction_name"""
DEVICE_FROM = """FROM devices d JOIN persons p ON p.id = d.person_id
JOIN jurisdictions j ON j.id = p.jurisdiction_id"""
DEVICE_WHERE = """WHERE j.path LIKE $1 || '%'
  AND ($2::text IS NULL OR d.id ILIKE $2 OR p.case_number ILIKE $2)
  AND ($3::text[] IS NULL OR d.kind = ANY($3))
  AND ($4::boolean IS NULL OR (d.revoked_at IS NULL) = $4)"""
DEVICE_ORDER = "p.case_number, d.created_at, d.id"
# a device is silent by the timers' rule (alerts.silence), from the fix the evaluator judged
# last; the latest fix stored is looked up for the page's devices only
DEVICE_PAGE = f"""
SELECT d.*, {DEVICE_FIX_COLUMNS}, {DEVICE_SILENT} AS silent
FROM (SELECT {DEVICE_COLUMNS} {DEVICE_FROM} {DEVICE_WHERE} ORDER BY {DEVICE_ORDER}
      LIMIT $5 OFFSET $6) d
JOIN persons p ON p.id = d.person_id
{SILENCE_JOINS}
{LATEST_FIX}
ORDER BY d.case_number, d.created_at, d.id
"""
DEVICE_PAGE_BY_SILENCE = f"""
SELECT d.*, {DEVICE_FIX_COLUMNS}
FROM (SELECT {DEVICE_COLUMNS}, {DEVICE_SILENT} AS silent {DEVICE_FROM} {SILENCE_JOINS}
      {DEVICE_WHERE} AND {DEVICE_SILENT} = $7 ORDER BY {DEVICE_ORDER} LIMIT $5 OFFSET $6) d
{LATEST_FIX}
ORDER BY d.case_number, d.created_at, d.id
"""
PERSONS_DEVICES = f"""
SELECT {DEVICE_COLUMNS}, {DEVICE_FIX_COLUMNS}, {DEVICE_SILENT} AS silent
{DEVICE_FROM} {SILENCE_JOINS} {LATEST_FIX}
WHERE d.person_id = ANY($1::bigint[])
ORDER BY d.person_id, d.created_at, d.id
"""


@dataclass(frozen=True)
class DeviceFilter:
    under_path: str
    q: str | None = None
    kind: Sequence[str] | None = None
    active: bool | None = None  # True: not revoked; False: revoked
    silent: bool | None = None


async def list_device_rows(
    conn: Conn, *, where: DeviceFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    args: list[Any] = [where.under_path, like_pattern(where.q), where.kind, where.active]
    if where.silent is None:
        rows = await fetch_without_jit(conn, DEVICE_PAGE, *args, limit, offset)
    else:
        rows = await fetch_without_jit(
            conn, DEVICE_PAGE_BY_SILENCE, *args, limit, offset, where.silent
        )
    return [dict(r) for r in rows]


async def persons_devices(conn: Conn, *, person_ids: list[int]) -> list[dict[str, Any]]:
    """The persons' devices, revoked ones included, each with its latest fix (or nulls)."""
    return [dict(r) for r in await fetch_without_jit(conn, PERSONS_DEVICES, person_ids)]
