"""Fence indexes for the evaluator, built once per fence version and shared by every person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg
import numpy as np
from asyncpg.pool import PoolConnectionProxy

from alerts.state_store import FenceRow, PersonRow, fence_versions, fences
from alerts.streams import StreamPing
from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex

Conn = asyncpg.Connection | PoolConnectionProxy

IndexKey = tuple[tuple[int, int], ...]


class FenceCache:
    def __init__(self) -> None:
        self._rows: dict[int, FenceRow] = {}
        self._indexes: dict[IndexKey, list[FenceIndex]] = {}

    async def refresh(self, conn: Conn, persons: Iterable[PersonRow]) -> None:
        wanted = sorted({f for p in persons for f in p.allowed_fence_ids})
        if not wanted:
            return
        versions = await fence_versions(conn, fence_ids=wanted)
        stale = [
            f for f, v in versions.items() if f not in self._rows or self._rows[f].version != v
        ]
        for row in await fences(conn, fence_ids=stale) if stale else []:
            self._rows[row.id] = row

    def classify(self, person: PersonRow, pings: list[StreamPing]) -> np.ndarray[Any, Any]:
        """INSIDE/OUTSIDE/UNCERTAIN of each ping for the union of the person's allowed fences."""
        lat = np.array([p["lat"] for p in pings], dtype=np.float64)
        lon = np.array([p["lon"] for p in pings], dtype=np.float64)
        acc = np.array([p["accuracy_m"] for p in pings], dtype=np.float64)
        indexes = self._indexes_for(person)
        if not indexes:
            return np.full(len(pings), UNCERTAIN, dtype=np.int8)
        codes = [index.classify(lat, lon, acc) for index in indexes]
        return combine(codes)

    def _indexes_for(self, person: PersonRow) -> list[FenceIndex]:
        rows = [self._rows[f] for f in person.allowed_fence_ids if f in self._rows]
        key: IndexKey = tuple((r.id, r.version) for r in rows)
        if key not in self._indexes:
            self._indexes[key] = build_indexes(rows)
        return self._indexes[key]


def build_indexes(rows: list[FenceRow]) -> list[FenceIndex]:
    """One index per CRS, each over the union of that CRS's fences."""
    by_crs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        feature = {"type": "Feature", "properties": {"id": row.id}, "geometry": row.geometry}
        by_crs.setdefault(row.crs, []).append(feature)
    return [
        FenceIndex.from_geojson({"type": "FeatureCollection", "features": feats}, crs=crs)
        for crs, feats in sorted(by_crs.items())
    ]


def combine(codes: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """Across indexes of different CRS: inside any is inside, outside all is outside.

    A disc straddling two fences of different CRS stays uncertain: never a false alarm.
    """
    if len(codes) == 1:
        return codes[0]
    stacked = np.stack(codes)
    out = np.full(stacked.shape[1], UNCERTAIN, dtype=np.int8)
    out[(stacked == OUTSIDE).all(axis=0)] = OUTSIDE
    out[(stacked == INSIDE).any(axis=0)] = INSIDE
    return out
