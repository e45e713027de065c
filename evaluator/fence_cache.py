"""Fence indexes for the evaluator, built once per fence version and shared by every person."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from alerts.fence_indexes import FenceRow, build_indexes, combine
from alerts.person_store import PersonRow
from evaluator.state_store import fence_versions, fences
from geofence import OUTSIDE, UNCERTAIN, FenceIndex
from geofence.models import CodeArray, FloatArray
from geofence.zones import ZoneIndex
from pings.pg import Conn

log = logging.getLogger(__name__)

IndexKey = tuple[tuple[int, int], ...]
ZONE_INDEX_FROM = 16  # exclusion zones of one person from which one ZoneIndex beats FenceIndexes
Points = tuple[FloatArray, FloatArray, FloatArray]  # lat, lon, accuracy_m
# A fence edited in the registry (a new version) is judged by within this long: versions are
# asked for at most this often, not on every evaluate. A fence not loaded yet is fetched at once.
FENCE_CHECK_S = 2.0


class FenceCache:
    def __init__(
        self,
        *,
        check_every_s: float = FENCE_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rows: dict[int, FenceRow] = {}
        self._indexes: dict[IndexKey, list[FenceIndex]] = {}
        self._zones: dict[IndexKey, ZoneIndex] = {}
        self._check_every_s, self._clock = check_every_s, clock
        self._checked_at: float | None = None
        # indexes asked about enough points to want their cell table, and the builds running
        self._wanting: set[FenceIndex] = set()
        self._building: dict[FenceIndex, asyncio.Task[Any]] = {}

    async def refresh(self, conn: Conn, persons: Iterable[PersonRow]) -> None:
        """Load fences not seen yet; every FENCE_CHECK_S, also every loaded fence's new version.
        Cell tables wanted meanwhile start building in a thread."""
        self._build_tables()
        wanted = {f for p in persons for f in p.fence_ids}
        now = self._clock()
        due = self._checked_at is None or now - self._checked_at >= self._check_every_s
        asked = sorted(wanted | set(self._rows) if due else wanted - set(self._rows))
        if not asked:
            return
        versions = await fence_versions(conn, fence_ids=asked)
        if due:
            self._checked_at = now
        stale = [
            f for f, v in versions.items() if f not in self._rows or self._rows[f].version != v
        ]
        for row in await fences(conn, fence_ids=stale) if stale else []:
            self._rows[row.id] = row
        if stale:  # indexes over an old version of a fence are never asked for again
            current = {(r.id, r.version) for r in self._rows.values()}
            for key in [k for k in self._indexes if not set(k) <= current]:
                del self._indexes[key]
            for key in [k for k in self._zones if not set(k) <= current]:
                del self._zones[key]

    def _build_tables(self) -> None:
        """A city's cell table takes seconds to build: in the event loop it would stall every
        partition of the worker, so it is built in a thread while the exact path answers."""
        for index in self._wanting - self._building.keys():
            task = asyncio.create_task(asyncio.to_thread(getattr, index, "table"))
            self._building[index] = task
            task.add_done_callback(functools.partial(self._built, index))
        self._wanting.clear()

    async def tables_built(self) -> None:
        """Start the cell tables wanted so far and wait for every build (benchmarks measure
        after them: a city's build is seconds of CPU)."""
        self._build_tables()
        await asyncio.gather(*self._building.values(), return_exceptions=True)

    def _built(self, index: FenceIndex, task: asyncio.Task[Any]) -> None:
        del self._building[index]
        if not task.cancelled() and task.exception() is not None:
            log.error("building a cell table failed", exc_info=task.exception())

    def classify(
        self, fence_ids: Iterable[int], points: Points, radius_m: FloatArray | None = None
    ) -> CodeArray:
        """INSIDE/OUTSIDE/UNCERTAIN of each point for the union of these fences.

        `radius_m` replaces the pings' accuracy (e.g. to ask "more than 500 m out?").
        """
        lat, lon, acc = points
        indexes = self._indexes_for(fence_ids)
        if not indexes:
            return np.full(len(lat), UNCERTAIN, dtype=np.int8)
        radius = acc if radius_m is None else radius_m
        codes = combine([index.classify(lat, lon, radius) for index in indexes])
        self._wanting.update(i for i in indexes if i.wants_table())
        return codes

    def classify_zones(self, zone_ids: Iterable[int], points: Points) -> dict[int, CodeArray]:
        """Codes per zone for the zones not wholly OUTSIDE (a zone not loaded: UNCERTAIN).

        Many zones (a city's schools) go through one ZoneIndex, shared by everyone with the
        same set; a handful are cheaper one FenceIndex each.
        """
        wanted = sorted(set(zone_ids))
        rows = [self._rows[z] for z in wanted if z in self._rows]
        size = len(points[0])
        codes = {z: np.full(size, UNCERTAIN, dtype=np.int8) for z in wanted if z not in self._rows}
        if len(rows) < ZONE_INDEX_FROM:
            for row in rows:
                found = self.classify([row.id], points)
                if (found != OUTSIDE).any():
                    codes[row.id] = found
            return codes
        key: IndexKey = tuple((r.id, r.version) for r in rows)
        if key not in self._zones:
            self._zones[key] = ZoneIndex.from_zones((r.id, r.geometry, r.crs) for r in rows)
        hits = self._zones[key].classify(*points)
        for point, zone, code in zip(hits.point, hits.zone, hits.code, strict=True):
            codes.setdefault(int(zone), np.full(size, OUTSIDE, dtype=np.int8))[point] = code
        return codes

    def _indexes_for(self, fence_ids: Iterable[int]) -> list[FenceIndex]:
        rows = [self._rows[f] for f in sorted(set(fence_ids)) if f in self._rows]
        key: IndexKey = tuple((r.id, r.version) for r in rows)
        if key not in self._indexes:
            self._indexes[key] = build_indexes(rows)
        return self._indexes[key]
