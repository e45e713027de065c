"""Shared helpers for the geofence tests: data files, hand-made fences, a slow exact reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, settings
from pyproj import Geod, Transformer

from geofence import FenceIndex

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
BOUNDARIES = DATA / "boundaries"
GEOD = Geod(ellps="WGS84")

# moderate example counts keep the whole geofence run well under a minute
PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

Json = dict[str, Any]


def boundary_file(relative: str) -> Json:
    path = BOUNDARIES / relative
    if not path.exists():
        pytest.skip(f"shared/data not found at {path.resolve()} (clone shared/ beside the repo)")
    loaded: Json = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point reached by walking north_m north, then east_m east, along geodesics."""
    lon1, lat1, _ = GEOD.fwd(lon, lat, 0.0, north_m)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, 90.0, east_m)
    return float(lat2), float(lon2)


def square(
    lat: float, lon: float, half_m: float, holes: list[list[list[float]]] | None = None
) -> Json:
    """A GeoJSON Polygon: a square of side 2·half_m around (lat, lon), edges along lat/lon lines."""
    south, west = offset(lat, lon, -half_m, -half_m)
    north, east = offset(lat, lon, half_m, half_m)
    shell = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [shell, *(holes or [])]}


def ring_around(lat: float, lon: float, half_m: float) -> list[list[float]]:
    shape = square(lat, lon, half_m)
    ring: list[list[float]] = shape["coordinates"][0]
    return ring


_REFERENCE_BOUNDARIES: dict[int, Any] = {}


def reference_boundary(index: FenceIndex) -> Any:
    """The area's boundary, densified to 0.001° so its edges stay straight in lon/lat."""
    if id(index) not in _REFERENCE_BOUNDARIES:
        _REFERENCE_BOUNDARIES[id(index)] = shapely.segmentize(index.area.boundary, 0.001)
    return _REFERENCE_BOUNDARIES[id(index)]


def reference_distance_m(index: FenceIndex, lat: float, lon: float) -> float:
    """Geodesic distance to the boundary: ranges measured in a plane centred on the point itself."""
    local = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84"
    )

    def to_local(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = local.transform(rows[:, 0], rows[:, 1])
        return np.column_stack([x, y])

    boundary = shapely.transform(reference_boundary(index), to_local)
    return float(shapely.distance(boundary, shapely.Point(0.0, 0.0)))


def reference_code(
    index: FenceIndex, lat: float, lon: float, accuracy_m: float, distance_m: float | None = None
) -> int | None:
    """1/-1/0 like classify, or None inside the tolerance band where either answer is allowed."""
    distance = reference_distance_m(index, lat, lon) if distance_m is None else distance_m
    if abs(distance - accuracy_m) < 0.005 * accuracy_m + 0.5:
        return None
    if distance <= accuracy_m:
        return 0
    return 1 if index.area.contains(shapely.Point(lon, lat)) else -1
