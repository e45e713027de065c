"""SQL of fence edits: lock, new version, versions kept, retirement, the persons on a fence."""

from __future__ import annotations

from typing import Any

import asyncpg

from monitor.registry.store import PERSON_SELECT
from pings.pg import Conn

# the fence, locked, and its jurisdiction's path (None: shared by the city)
LOCK_FENCE = """
SELECT f.version, f.retired_at, f.crs, j.path AS jurisdiction_path
FROM fences f LEFT JOIN jurisdictions j ON j.id = f.jurisdiction_id
WHERE f.id = $1 FOR UPDATE OF f
"""


async def lock_fence(conn: Conn, *, fence_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_FENCE, fence_id)


# the version bump is what the evaluators compare (evaluator/fence_cache.py), and what the
# trigger of migration 0021 keeps a copy of
UPDATE_FENCE = """
UPDATE fences SET name = coalesce($2, name), crs = coalesce($3, crs),
       geometry = coalesce($4, geometry), properties = coalesce($5, properties),
       version = version + 1, updated_at = now()
WHERE id = $1 RETURNING version
"""


async def update_fence(conn: Conn, *, fence_id: int, changes: dict[str, Any]) -> int:
    fields = ("name", "crs", "geometry", "properties")
    version: int = await conn.fetchval(UPDATE_FENCE, fence_id, *(changes.get(k) for k in fields))
    return version


LIST_VERSIONS = """
SELECT fence_id, version, name, crs, geometry, properties, created_at FROM fence_versions
WHERE fence_id = $1 ORDER BY version LIMIT $2 OFFSET $3
"""


async def list_versions(
    conn: Conn, *, fence_id: int, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_VERSIONS, fence_id, limit, offset)


RETIRE_FENCE = """
UPDATE fences SET retired_at = now(), retired_by = $2, retire_reason = $3 WHERE id = $1
"""


async def retire_fence(conn: Conn, *, fence_id: int, officer_id: int, reason: str) -> None:
    await conn.execute(RETIRE_FENCE, fence_id, officer_id, reason)


# under supervision, within the viewer's reach, judged by the fence: allowed or exclusion, or
# an active curfew's home
PERSONS_ON_FENCE = (
    PERSON_SELECT
    + """
WHERE j.path LIKE $1 || '%' AND p.discharged_at IS NULL
  AND (EXISTS (SELECT 1 FROM person_fences x WHERE x.person_id = p.id AND x.fence_id = $2)
       OR EXISTS (SELECT 1 FROM person_rules r WHERE r.person_id = p.id AND r.active
                  AND r.kind = 'curfew' AND r.params->>'fence_id' = $2::text))
GROUP BY p.id, j.path ORDER BY p.id LIMIT $3 OFFSET $4
"""
)


async def persons_on_fence(
    conn: Conn, *, fence_id: int, under_path: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(PERSONS_ON_FENCE, under_path, fence_id, limit, offset)
