"""A person's fences as rows, and the indexes built over them: the worker's fence cache and the
officer's track judge with the same ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex
from geofence.models import CodeArray


@dataclass(frozen=True)
class FenceRow:
    id: int
    version: int
    crs: str
    geometry: dict[str, Any]


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


def combine(codes: list[CodeArray]) -> CodeArray:
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
