"""SQL the evaluator needs besides alerts: who a person is, their fences, their saved state."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from geofence.errors import InvalidInputError
from geofence.rules import PersonRules, parse_rules

Conn = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonRow:
    id: int
    supervision_level: str
    jurisdiction_id: int
    jurisdiction_path: str
    allowed_fence_ids: tuple[int, ...]
    exclusion_fence_ids: tuple[int, ...] = ()
    rules: PersonRules = field(default_factory=PersonRules)
    revision: int = 0  # persons.revision when read (migrations/0006)
    # live devices by kind, for device separation (geofence.separation); migrations/0017
    # moves the revision when a device is enrolled or revoked
    band_ids: tuple[str, ...] = ()
    phone_ids: tuple[str, ...] = ()

    @property
    def fence_ids(self) -> tuple[int, ...]:
        """Every fence the person is judged against: allowed, exclusion and curfew homes."""
        homes = (c.fence_id for c in self.rules.curfews)
        return tuple(sorted({*self.allowed_fence_ids, *self.exclusion_fence_ids, *homes}))


@dataclass(frozen=True)
class FenceRow:
    id: int
    version: int
    crs: str
    geometry: dict[str, Any]


PERSON_COLUMNS = """
p.id, p.revision, p.supervision_level, p.jurisdiction_id, j.path AS jurisdiction_path, p.timezone,
coalesce(fz.allowed, '{}') AS allowed_fence_ids,
coalesce(fz.exclusion, '{}') AS exclusion_fence_ids,
coalesce(dv.bands, '{}') AS band_ids, coalesce(dv.phones, '{}') AS phone_ids,
(SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'kind', r.kind,
                                              'params', r.params) ORDER BY r.id), '[]')
 FROM person_rules r WHERE r.person_id = p.id AND r.active) AS rules,
(SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', l.id, 'starts_at', l.starts_at, 'ends_at', l.ends_at,
            'grace_s', l.grace_s)), '[]')
 FROM leave_permits l
 WHERE l.person_id = p.id AND l.closed_at IS NULL AND l.cancelled_at IS NULL) AS permits
"""
PERSON_FROM = """
FROM persons p JOIN jurisdictions j ON j.id = p.jurisdiction_id
LEFT JOIN LATERAL (
    SELECT array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'allowed') AS allowed,
           array_agg(f.id ORDER BY f.id) FILTER (WHERE f.role = 'exclusion') AS exclusion
    FROM person_fences pf JOIN fences f ON f.id = pf.fence_id WHERE pf.person_id = p.id
) fz ON true
LEFT JOIN LATERAL (
    SELECT array_agg(d.id ORDER BY d.id) FILTER (WHERE d.kind <> 'phone') AS bands,
           array_agg(d.id ORDER BY d.id) FILTER (WHERE d.kind = 'phone') AS phones
    FROM devices d WHERE d.person_id = p.id AND d.revoked_at IS NULL
) dv ON true
"""
PERSONS = f"SELECT {PERSON_COLUMNS} {PERSON_FROM} WHERE p.id = ANY($1::bigint[])"


async def persons(conn: Conn, *, person_ids: list[int]) -> dict[int, PersonRow]:
    return {r["id"]: person_row(r) for r in await conn.fetch(PERSONS, person_ids)}


def person_row(r: asyncpg.Record) -> PersonRow:
    return PersonRow(
        id=r["id"],
        supervision_level=r["supervision_level"],
        jurisdiction_id=r["jurisdiction_id"],
        jurisdiction_path=r["jurisdiction_path"],
        allowed_fence_ids=tuple(r["allowed_fence_ids"]),
        exclusion_fence_ids=tuple(r["exclusion_fence_ids"]),
        rules=person_rules(r),
        revision=r["revision"],
        band_ids=tuple(r["band_ids"]),
        phone_ids=tuple(r["phone_ids"]),
    )


def person_rules(row: asyncpg.Record) -> PersonRules:
    """The API checks rules on the way in; one that still fails here is logged and skipped."""
    if not row["rules"] and not row["permits"]:  # most people: nothing to parse, every batch
        return no_rules(row["timezone"])
    try:
        return parse_rules(row["timezone"], row["rules"], row["permits"])
    except InvalidInputError as error:
        log.error("person %d: rules ignored, %s", row["id"], error)
        return parse_rules("Asia/Shanghai", [], row["permits"])


@functools.cache
def no_rules(timezone: str) -> PersonRules:
    return parse_rules(timezone, [], [])


FENCE_VERSIONS = "SELECT id, version FROM fences WHERE id = ANY($1::bigint[])"
FENCES = "SELECT id, version, crs, geometry FROM fences WHERE id = ANY($1::bigint[])"


async def fence_versions(conn: Conn, *, fence_ids: list[int]) -> dict[int, int]:
    return {r["id"]: r["version"] for r in await conn.fetch(FENCE_VERSIONS, fence_ids)}


async def fences(conn: Conn, *, fence_ids: list[int]) -> list[FenceRow]:
    return [FenceRow(**dict(r)) for r in await conn.fetch(FENCES, fence_ids)]


ENSURE_STATES = """
INSERT INTO person_state (person_id, state) SELECT unnest($1::bigint[]), '{}'::jsonb
ON CONFLICT DO NOTHING
"""
LOCK_STATES = """
SELECT person_id, state FROM person_state WHERE person_id = ANY($1::bigint[])
ORDER BY person_id FOR UPDATE
"""


async def lock_states(conn: Conn, *, person_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each person's saved state, row-locked to commit so two evaluators never interleave."""
    await conn.execute(ENSURE_STATES, person_ids)
    return {r["person_id"]: r["state"] for r in await conn.fetch(LOCK_STATES, person_ids)}


# The states travel as one JSON array, not a jsonb[]: asyncpg encodes an array element by
# element and PostgreSQL parses each element on its own. ROWS FROM zips it with the other
# columns in order. See docs/decisions/0025-judging-batches-as-columns.md
SAVE_STATES = """
UPDATE person_state s SET state = v.state, updated_at = now(),
       quietest_fix_at = v.quietest_fix_at,
       -- the newest fix wins: a late upload never moves the map dot backwards
       last_ts = greatest(s.last_ts, v.last_ts),
       last_lat = CASE WHEN v.last_ts > coalesce(s.last_ts, '-infinity') THEN v.lat
                       ELSE s.last_lat END,
       last_lon = CASE WHEN v.last_ts > coalesce(s.last_ts, '-infinity') THEN v.lon
                       ELSE s.last_lon END
FROM ROWS FROM (unnest($1::bigint[]), jsonb_array_elements($2::jsonb), unnest($3::timestamptz[]),
               unnest($4::float8[]), unnest($5::float8[]), unnest($9::timestamptz[]))
     AS v(person_id, state, last_ts, lat, lon, quietest_fix_at)
WHERE s.person_id = v.person_id
"""


@dataclass(frozen=True)
class SavedState:
    person_id: int
    state: dict[str, Any]
    last_ts: Any
    lat: float
    lon: float
    # the oldest newest fix of the person's live devices; None if one has never reported
    # (the timers' cheap prefilter for silent devices, migrations/0017)
    quietest_fix_at: datetime | None = None


LATEST_POSITIONS = """
SELECT s.person_id, p.case_number, p.supervision_level, s.last_ts, s.last_lat, s.last_lon,
       s.state->'area'->>'status' AS status
FROM person_state s JOIN persons p ON p.id = s.person_id
JOIN jurisdictions j ON j.id = p.jurisdiction_id
WHERE j.path LIKE $1 || '%' AND s.last_ts IS NOT NULL
ORDER BY s.person_id
"""


async def latest_positions(conn: Conn, *, under_path: str) -> list[asyncpg.Record]:
    return await conn.fetch(LATEST_POSITIONS, under_path)


# The end of an evaluator's transaction in one round trip: states ($1..$5, $9), the
# checkpoints of the partitions judged (one row each of $6..$8).
SAVE_PROGRESS = f"""
WITH saved AS ({SAVE_STATES}),
checkpoint AS (
    INSERT INTO stream_checkpoints AS c (partition, last_ping_id, received_through, updated_at)
    SELECT partition, last_ping_id, received_through, now()
    FROM unnest($6::int[], $7::bigint[], $8::timestamptz[])
         AS v(partition, last_ping_id, received_through)
    ON CONFLICT (partition) DO UPDATE SET
        last_ping_id = greatest(c.last_ping_id, EXCLUDED.last_ping_id),
        received_through = greatest(c.received_through, EXCLUDED.received_through),
        updated_at = now()
)
SELECT 1
"""


@dataclass(frozen=True)
class Progress:
    """How far a partition's stream has been judged: committed with the judgement itself."""

    partition: int
    last_ping_id: int
    received_through: datetime


async def save_progress(
    conn: Conn,
    *,
    states: list[SavedState],
    progress: Sequence[Progress],
) -> None:
    """The judged persons' states and the partitions' checkpoints, in one statement. A
    transaction may hold several reads of one partition: one row each (ON CONFLICT cannot
    touch a row twice), at the furthest any of them reached."""
    furthest: dict[int, Progress] = {}
    for p in progress:
        seen = furthest.get(p.partition)
        if seen is not None:
            p = Progress(
                p.partition,
                max(p.last_ping_id, seen.last_ping_id),
                max(p.received_through, seen.received_through),
            )
        furthest[p.partition] = p
    progress = list(furthest.values())
    await conn.execute(
        SAVE_PROGRESS,
        [s.person_id for s in states],
        [s.state for s in states],
        [s.last_ts for s in states],
        [s.lat for s in states],
        [s.lon for s in states],
        [p.partition for p in progress],
        [p.last_ping_id for p in progress],
        [p.received_through for p in progress],
        [s.quietest_fix_at for s in states],
    )


GET_CHECKPOINT = """
SELECT received_through, replay_from FROM stream_checkpoints WHERE partition = $1
"""


async def checkpoint(conn: Conn, *, partition: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_CHECKPOINT, partition)
