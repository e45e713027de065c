"""Positions as officers read them: the latest of each person, and a person's track with each
fix judged against the person's allowed area now, the same accuracy-circle test the evaluator
applies (inside, outside, uncertain).

Pings are stored without a verdict (the evaluator keeps state, not a judgment per ping), so
the console's playback would otherwise have to redo geometry in the browser, less exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import numpy as np

from alerts.fence_indexes import FenceRow, build_indexes, combine
from alerts.schemas import TrackArea
from geofence import INSIDE, OUTSIDE
from pings.pg import Conn

# any other code (UNCERTAIN) is "uncertain"
AREA_NAMES: dict[int, TrackArea] = {int(INSIDE): "inside", int(OUTSIDE): "outside"}

ALLOWED_FENCES = """
SELECT f.id, f.version, f.crs, f.geometry FROM person_fences pf JOIN fences f ON f.id = pf.fence_id
WHERE pf.person_id = $1 AND f.role = 'allowed' ORDER BY f.id
"""


async def allowed_fences(conn: Conn, *, person_id: int) -> list[FenceRow]:
    return [FenceRow(**dict(r)) for r in await conn.fetch(ALLOWED_FENCES, person_id)]


async def areas_of(
    fences: list[FenceRow], rows: Sequence[asyncpg.Record]
) -> list[TrackArea | None]:
    """The area of each fix; None for every fix when the person has no allowed area. In a
    thread: Shenzhen's outline and 100,000 fixes take about 0.6 s of CPU."""
    if not fences or not rows:
        return [None] * len(rows)
    return await asyncio.to_thread(classify, fences, rows)


def classify(fences: list[FenceRow], rows: Sequence[asyncpg.Record]) -> list[TrackArea | None]:
    """Exact geometry, never the cell table: a table pays only for an index kept and asked
    often, and a request's index lives for one request (seconds to build a city's table)."""
    lat = np.fromiter((r["lat"] for r in rows), dtype=np.float64, count=len(rows))
    lon = np.fromiter((r["lon"] for r in rows), dtype=np.float64, count=len(rows))
    acc = np.fromiter((r["accuracy_m"] for r in rows), dtype=np.float64, count=len(rows))
    codes = combine([index.classify_exact(lat, lon, acc) for index in build_indexes(fences)])
    return [AREA_NAMES.get(int(code), "uncertain") for code in codes]


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
