"""SQL of the worker besides alerts: fences by version, each person's saved state, the
partitions' checkpoints (with where a replay marked by ingest starts; the marks and the
replay query are pings.replay's)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from alerts.fence_indexes import FenceRow
from pings.pg import Conn

log = logging.getLogger(__name__)


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
