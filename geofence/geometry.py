"""GeoJSON → one valid shapely (Multi)Polygon in WGS-84: repaired with a warning, or refused.

The only place that turns (lat, lon) into shapely's (x=lon, y=lat) is `lonlat_points`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geofence.crs import to_wgs84
from geofence.errors import InvalidGeometryError


@dataclass
class Hygiene:
    warnings: list[str] = field(default_factory=list)


def lonlat_points(lat: Any, lon: Any) -> Any:
    return shapely.points(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))


def features_of(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label, geometry) for a geometry, Feature or FeatureCollection."""
    if not isinstance(obj, dict):
        raise InvalidGeometryError("geometry: expected a GeoJSON object")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list) or not feats:
            raise InvalidGeometryError("features: a FeatureCollection needs at least one feature")
        return [(label(f, n), geometry_of(f, label(f, n))) for n, f in enumerate(feats)]
    if kind == "Feature":
        return [(label(obj, 0), geometry_of(obj, label(obj, 0)))]
    return [("geometry", obj)]


def label(feature: Any, n: int) -> str:
    props = feature.get("properties") if isinstance(feature, dict) else None
    props = props if isinstance(props, dict) else {}
    name = next((props[k] for k in ("name", "qh", "NAME", "id") if k in props), None)
    name = name if name is not None else feature.get("id") if isinstance(feature, dict) else None
    return f"feature {n}" + (f" ({name})" if name is not None else "")


def geometry_of(feature: Any, where: str) -> dict[str, Any]:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict):
        raise InvalidGeometryError(f"{where}: has no geometry")
    return geometry


def to_area(obj: Any, crs: str, hygiene: Hygiene) -> Polygon | MultiPolygon:
    parts = [
        poly for where, geom in features_of(obj) for poly in polygons(geom, where, crs, hygiene)
    ]
    area = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    if area.is_empty or area.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometryError("geometry: nothing polygonal remains")
    return area


def polygons(geom: dict[str, Any], where: str, crs: str, hygiene: Hygiene) -> list[Polygon]:
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "Polygon":
        raw = [coords]
    elif kind == "MultiPolygon" and isinstance(coords, list):
        raw = coords
    else:
        raise InvalidGeometryError(f"{where}: {kind!r} is not a Polygon or MultiPolygon")
    out = []
    for p, rings in enumerate(raw):
        out += polygon(rings, f"{where} polygon {p}", crs, hygiene)
    if len(out) > 1 and not MultiPolygon(out).is_valid:
        reason = shapely.is_valid_reason(MultiPolygon(out))
        hygiene.warnings.append(
            f"{where}: parts overlap or touch ({reason}); merged as their union"
        )
    return out


def polygon(rings: Any, where: str, crs: str, hygiene: Hygiene) -> list[Polygon]:
    if not isinstance(rings, list) or not rings:
        raise InvalidGeometryError(f"{where}: a polygon needs an outer ring")
    shell, *holes = [ring(r, f"{where} ring {n}", crs, hygiene) for n, r in enumerate(rings)]
    poly = Polygon(shell, holes)
    if poly.is_valid:
        return [poly]
    reason = shapely.is_valid_reason(poly)
    repaired = shapely.make_valid(poly)
    kept = [g for g in getattr(repaired, "geoms", [repaired]) if g.geom_type == "Polygon"]
    kept += [
        g for c in getattr(repaired, "geoms", []) if c.geom_type == "MultiPolygon" for g in c.geoms
    ]
    if not kept:
        raise InvalidGeometryError(
            f"{where}: invalid ({reason}) and nothing polygonal survives repair"
        )
    hygiene.warnings.append(f"{where}: repaired invalid geometry ({reason})")
    return kept


def ring(coords: Any, where: str, crs: str, hygiene: Hygiene) -> np.ndarray[Any, Any]:
    """A closed ring as (lon, lat) rows in WGS-84; refuses what cannot be a ring."""
    points = checked_positions(coords, where)
    if not np.array_equal(points[0], points[-1]):
        hygiene.warnings.append(f"{where}: ring was not closed; closed it")
        points = np.vstack([points, points[:1]])
    keep = np.r_[True, np.any(np.diff(points, axis=0) != 0, axis=1)]
    points = points[keep]
    if len(points) < 4:
        raise InvalidGeometryError(
            f"{where}: a ring needs at least 4 positions (3 distinct corners)"
        )
    if shapely.area(Polygon(points)) == 0:
        raise InvalidGeometryError(f"{where}: collapsed ring (zero area)")
    lat, lon = to_wgs84(points[:, 1], points[:, 0], crs)
    return np.column_stack([lon, lat])


def checked_positions(coords: Any, where: str) -> np.ndarray[Any, Any]:
    if not isinstance(coords, list) or len(coords) < 3:
        raise InvalidGeometryError(f"{where}: a ring needs at least 4 positions")
    try:
        points = np.array([[float(c[0]), float(c[1])] for c in coords], dtype=np.float64)
    except (TypeError, ValueError, IndexError):
        raise InvalidGeometryError(f"{where}: every position must be [lon, lat] numbers") from None
    if not all(math.isfinite(v) for v in points.ravel()):
        raise InvalidGeometryError(f"{where}: positions must be finite numbers")
    if np.any(np.abs(points[:, 0]) > 180) or np.any(np.abs(points[:, 1]) > 90):
        raise InvalidGeometryError(f"{where}: position out of range (need lon in ±180, lat in ±90)")
    return points
