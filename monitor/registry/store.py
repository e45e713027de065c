"""SQL for the registry; rows become the wire models in one place each."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from alerts.levels import LEVELS, ranks_below
from alerts.silence import DEVICE_SILENT, SILENCE_AFTER_S, SILENCE_JOINS
from monitor.errors import BadRequestError
from monitor.registry import schemas
from monitor.registry.roster_store import LATEST_FIX
from pings.pg import Conn

LADDER_TEXT = " > ".join(reversed(LEVELS))  # ministry > province > city > district > street

INSERT_JURISDICTION = """
INSERT INTO jurisdictions (name, level, parent_id, code) VALUES ($1, $2, $3, $4)
RETURNING id, name, level, parent_id, code, path
"""


PARENT_LEVEL = "SELECT level FROM jurisdictions WHERE id = $1"


async def insert_jurisdiction(
    conn: Conn, *, data: schemas.JurisdictionIn
) -> schemas.JurisdictionOut:
    """The new node; refused (naming `parent_id` or `level`) unless it ranks below its parent
    (the database's trigger holds the same rule for any other writer)."""
    if data.parent_id is not None:
        parent_level = await conn.fetchval(PARENT_LEVEL, data.parent_id)
        if parent_level is None:
            raise BadRequestError(f"parent_id: no jurisdiction {data.parent_id}", field="parent_id")
        if not ranks_below(data.level, parent_level):
            raise BadRequestError(
                f"level: a {data.level} cannot sit under a {parent_level} (parent_id "
                f"{data.parent_id}); a node ranks below its parent: {LADDER_TEXT}",
                field="level",
            )
    row = await conn.fetchrow(INSERT_JURISDICTION, data.name, data.level, data.parent_id, data.code)
    assert row is not None
    return schemas.JurisdictionOut(**dict(row))


GET_JURISDICTION_PATH = "SELECT path FROM jurisdictions WHERE id = $1"


async def get_jurisdiction_path(conn: Conn, *, jurisdiction_id: int) -> str | None:
    path: str | None = await conn.fetchval(GET_JURISDICTION_PATH, jurisdiction_id)
    return path


LIST_JURISDICTIONS = """
SELECT id, name, level, parent_id, code, path FROM jurisdictions
WHERE path LIKE $1 || '%' ORDER BY path
"""


async def list_jurisdictions(conn: Conn, *, under_path: str) -> list[schemas.JurisdictionOut]:
    rows = await conn.fetch(LIST_JURISDICTIONS, under_path)
    return [schemas.JurisdictionOut(**dict(r)) for r in rows]


INSERT_PERSON = """
INSERT INTO persons (case_number, full_name, supervision_level, jurisdiction_id, timezone)
VALUES ($1, $2, $3, $4, $5) RETURNING id
"""
INSERT_PERSON_FENCES = """
INSERT INTO person_fences (person_id, fence_id) SELECT $1, unnest($2::bigint[])
"""


async def insert_person(conn: Conn, *, data: schemas.PersonIn, jurisdiction_id: int) -> int:
    person_id: int = await conn.fetchval(
        INSERT_PERSON,
        data.case_number,
        data.full_name,
        data.supervision_level,
        jurisdiction_id,
        data.timezone,
    )
    fence_ids = [*data.allowed_fence_ids, *data.exclusion_fence_ids]
    await conn.execute(INSERT_PERSON_FENCES, person_id, fence_ids)
    return person_id


PERSON_SELECT = """
SELECT p.id, p.case_number, p.full_name, p.supervision_level, p.jurisdiction_id, p.timezone,
       p.created_at, p.revision, p.discharged_at, p.discharge_date, p.discharge_reason,
       j.path AS jurisdiction_path,
       coalesce(array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'allowed'), '{}')
           AS allowed_fence_ids,
       coalesce(array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'exclusion'), '{}')
           AS exclusion_fence_ids
FROM persons p
JOIN jurisdictions j ON j.id = p.jurisdiction_id
LEFT JOIN person_fences pf ON pf.person_id = p.id
LEFT JOIN fences f ON f.id = pf.fence_id
"""
GET_PERSON = PERSON_SELECT + " WHERE p.id = $1 GROUP BY p.id, j.path"


async def get_person(conn: Conn, *, person_id: int) -> tuple[schemas.PersonOut, str] | None:
    """The person and the path of their jurisdiction (for access checks)."""
    row = await conn.fetchrow(GET_PERSON, person_id)
    if row is None:
        return None
    return row_to_person(row), row["jurisdiction_path"]


def row_to_person(row: asyncpg.Record) -> schemas.PersonOut:
    data = dict(row)
    data.pop("jurisdiction_path")
    return schemas.PersonOut(**data)


NOW = "SELECT now()"


async def database_now(conn: Conn) -> datetime:
    """The database's clock: the one ingest's order windows are judged by."""
    now: datetime = await conn.fetchval(NOW)
    return now


ORDER_COLUMNS = """id, person_id, kind, starts_at, ends_at, basis, approved_by, revoked_at,
revoked_by, revoke_reason, created_at"""
INSERT_ORDER = f"""
INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at, basis, approved_by, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {ORDER_COLUMNS}
"""


async def insert_order(
    conn: Conn, *, person_id: int, data: schemas.OrderIn, officer_id: int | None
) -> schemas.OrderOut:
    """Raises asyncpg.ExclusionViolationError when a live order of the kind overlaps."""
    row = await conn.fetchrow(
        INSERT_ORDER,
        person_id,
        data.kind,
        data.starts_at,
        data.ends_at,
        data.basis,
        data.approved_by,
        officer_id,
    )
    assert row is not None
    return schemas.OrderOut(**dict(row))


LIST_ORDERS = f"""
SELECT {ORDER_COLUMNS} FROM monitoring_orders WHERE person_id = $1 ORDER BY starts_at, id
"""
# the live order of the kind that a new [starts_at, ends_at) would overlap
OVERLAPPING_ORDER = f"""
SELECT {ORDER_COLUMNS} FROM monitoring_orders
WHERE person_id = $1 AND kind = $2 AND revoked_at IS NULL AND starts_at < $4 AND ends_at > $3
ORDER BY starts_at LIMIT 1
"""
# the order, locked, and the path of its person's jurisdiction (for the access check)
GET_ORDER_FOR_UPDATE = f"""
SELECT {", ".join("o." + c.strip() for c in ORDER_COLUMNS.split(","))},
       j.path AS jurisdiction_path
FROM monitoring_orders o
JOIN persons p ON p.id = o.person_id JOIN jurisdictions j ON j.id = p.jurisdiction_id
WHERE o.id = $1 FOR UPDATE OF o
"""
REVOKE_ORDER = f"""
UPDATE monitoring_orders SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
WHERE id = $1 RETURNING {ORDER_COLUMNS}
"""


async def list_orders(conn: Conn, *, person_id: int) -> list[schemas.OrderOut]:
    return [schemas.OrderOut(**dict(r)) for r in await conn.fetch(LIST_ORDERS, person_id)]


async def overlapping_order(
    conn: Conn, *, person_id: int, data: schemas.OrderIn
) -> schemas.OrderOut | None:
    row = await conn.fetchrow(OVERLAPPING_ORDER, person_id, data.kind, data.starts_at, data.ends_at)
    return None if row is None else schemas.OrderOut(**dict(row))


async def lock_order(conn: Conn, *, order_id: int) -> tuple[schemas.OrderOut, str] | None:
    """The order, locked until the transaction ends, and its person's jurisdiction path."""
    row = await conn.fetchrow(GET_ORDER_FOR_UPDATE, order_id)
    if row is None:
        return None
    data = dict(row)
    path: str = data.pop("jurisdiction_path")
    return schemas.OrderOut(**data), path


async def revoke_order(
    conn: Conn, *, order_id: int, officer_id: int, reason: str
) -> schemas.OrderOut:
    """Ends the order now. The UPDATE stamps changed_at, which ingest's change feed reads."""
    row = await conn.fetchrow(REVOKE_ORDER, order_id, officer_id, reason)
    assert row is not None
    return schemas.OrderOut(**dict(row))


INSERT_DEVICE = """
INSERT INTO devices (id, person_id, kind, token_hash, identifier_only, expected_interval_s)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at
"""


async def insert_device(
    conn: Conn, *, device_id: str, data: schemas.DeviceIn, token_hash: bytes | None
) -> datetime:
    created_at: datetime = await conn.fetchval(
        INSERT_DEVICE,
        device_id,
        data.person_id,
        data.kind,
        token_hash,
        data.identifier_only,
        data.expected_interval_s,
    )
    return created_at


DEVICE_COLUMNS = (
    "id, id AS device_id, person_id, kind, expected_interval_s, identifier_only, created_at,"
    " revoked_at"
)
# each device with its latest fix: when it was last heard, its battery, whether it said tampered;
# silent by the timers' rule (alerts.silence)
# (the look-up walks the pings' (person_id, ts) key: see roster_store.LATEST_FIX)
LIST_DEVICES = f"""
SELECT d.id, d.id AS device_id, d.person_id, d.kind, d.expected_interval_s, d.identifier_only,
       d.created_at, d.revoked_at,
       f.ts AS last_fix_at, f.received_at AS last_received_at, f.battery_pct, f.tamper,
       {DEVICE_SILENT} AS silent, ({SILENCE_AFTER_S})::integer AS silent_after_s
FROM devices d JOIN persons p ON p.id = d.person_id
{SILENCE_JOINS}
{LATEST_FIX}
WHERE d.person_id = ANY($1::bigint[])
ORDER BY d.person_id, d.created_at, d.id
"""
DEVICE_PERSON = "SELECT person_id FROM devices WHERE id = $1"
ROTATE_DEVICE = f"""
UPDATE devices SET token_hash = $2 WHERE id = $1 AND revoked_at IS NULL AND NOT identifier_only
RETURNING {DEVICE_COLUMNS}
"""
REVOKE_DEVICE = f"""
UPDATE devices SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
RETURNING {DEVICE_COLUMNS}
"""


async def list_devices(conn: Conn, *, person_ids: list[int]) -> list[asyncpg.Record]:
    """The persons' devices, revoked ones included, each with its latest fix (or nulls)."""
    return await conn.fetch(LIST_DEVICES, person_ids)


async def device_person(conn: Conn, *, device_id: str) -> int | None:
    person_id: int | None = await conn.fetchval(DEVICE_PERSON, device_id)
    return person_id


async def rotate_device(conn: Conn, *, device_id: str, token_hash: bytes) -> asyncpg.Record | None:
    """A new token for an active device; the old one stops working (after ingest's cache)."""
    return await conn.fetchrow(ROTATE_DEVICE, device_id, token_hash)


async def revoke_device(conn: Conn, *, device_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(REVOKE_DEVICE, device_id)


INSERT_FENCE = """
INSERT INTO fences (name, role, crs, geometry, properties, jurisdiction_id)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, version, created_at
"""


async def insert_fence(conn: Conn, *, data: schemas.FenceIn) -> asyncpg.Record:
    row = await conn.fetchrow(
        INSERT_FENCE,
        data.name,
        data.role,
        data.crs,
        data.geometry,
        data.properties,
        data.jurisdiction_id,
    )
    assert row is not None
    return row


FENCE_COLUMNS = (
    "f.id, f.name, f.role, f.crs, f.properties, f.jurisdiction_id, f.version, f.created_at,"
    " f.retired_at"
)
# visible: global fences, and fences of the officer's ancestors or subtree
FENCE_VISIBLE = """
(f.jurisdiction_id IS NULL
 OR EXISTS (SELECT 1 FROM jurisdictions j WHERE j.id = f.jurisdiction_id
            AND (j.path LIKE $1 || '%' OR $1 LIKE j.path || '%')))
"""
LIST_FENCES = f"SELECT {FENCE_COLUMNS} FROM fences f WHERE {FENCE_VISIBLE} ORDER BY f.id"
GET_FENCE = f"SELECT {FENCE_COLUMNS}, f.geometry FROM fences f WHERE {FENCE_VISIBLE} AND f.id = $2"


async def list_fences(conn: Conn, *, viewer_path: str) -> list[schemas.FenceOut]:
    return [schemas.FenceOut(**dict(r)) for r in await conn.fetch(LIST_FENCES, viewer_path)]


async def get_fence(conn: Conn, *, fence_id: int, viewer_path: str) -> schemas.FenceOut | None:
    row = await conn.fetchrow(GET_FENCE, viewer_path, fence_id)
    return None if row is None else schemas.FenceOut(**dict(row))


VISIBLE_FENCE_IDS = f"""
SELECT f.id FROM fences f WHERE {FENCE_VISIBLE} AND f.id = ANY($2::bigint[]) AND f.role = $3
"""


RETIRED_FENCE_IDS = "SELECT id FROM fences WHERE id = ANY($1::bigint[]) AND retired_at IS NOT NULL"


async def retired_fence_ids(conn: Conn, *, fence_ids: list[int]) -> set[int]:
    return {r["id"] for r in await conn.fetch(RETIRED_FENCE_IDS, fence_ids)}


async def visible_fence_ids(
    conn: Conn, *, fence_ids: list[int], role: str, viewer_path: str
) -> set[int]:
    """Those of `fence_ids` that are fences of `role` visible from `viewer_path`."""
    rows = await conn.fetch(VISIBLE_FENCE_IDS, viewer_path, fence_ids, role)
    return {r["id"] for r in rows}
