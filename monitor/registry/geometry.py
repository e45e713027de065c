"""Fence geometry as stored: one Polygon or MultiPolygon, in the fence's own CRS."""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import mapping, shape

from geofence import FenceIndex
from geofence.errors import GeofenceError
from monitor.errors import BadRequestError


def to_fence_geometry(obj: dict[str, Any], crs: str) -> tuple[dict[str, Any], list[str]]:
    """A geometry, Feature or FeatureCollection becomes one (Multi)Polygon; bad rings are refused.

    The engine checks and repairs; what is stored is the original coordinates, merged.
    """
    try:
        index = FenceIndex.from_geojson(obj, crs=crs)
    except GeofenceError as exc:
        raise BadRequestError(f"geometry: {exc}", field="geometry") from None
    kind = obj.get("type")
    if kind in ("Polygon", "MultiPolygon"):
        return obj, list(index.warnings)
    features = obj["features"] if kind == "FeatureCollection" else [obj]
    merged = shapely.union_all([shapely.make_valid(shape(f["geometry"])) for f in features])
    return dict(mapping(merged)), list(index.warnings)
