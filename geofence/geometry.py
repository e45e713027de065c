"""GeoJSON → one valid shapely (Multi)Polygon in WGS-84, before any ping is judged against it.

What can be repaired is repaired and reported in the returned warnings; what cannot be read
safely raises InvalidGeometryError naming the feature, polygon and ring. The only place that
turns (lat, lon) into shapely's (x=lon, y=lat) is `xy_of`.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from geofence.crs import to_wgs84
from geofence.errors import InvalidGeometryError
from geofence.models import FloatArray

Area: TypeAlias = "Polygon | MultiPolygon"

SLIVER_M2 = 1.0  # rings enclosing less than this are digitising noise, not a place
# GeoJSON edges are straight in lon/lat; vertices at most this far apart (degrees, ~200 m) keep
# the metric projection and the CRS shift of long edges faithful to about a millimetre.
DENSIFY_DEG = 0.002
# snap the union to ~1 mm so shared edges that differ by float noise (after CRS conversion)
# merge instead of leaving hairline gaps that would read as boundary
GRID_DEG = 1e-8
M_PER_DEG = 6371008.8 * math.pi / 180.0
NAME_KEYS = ("name", "NAME", "qh", "id", "adcode")


def xy_of(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    """(lat, lon) → rows of shapely (x=lon, y=lat)."""
    return np.column_stack([np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)])


def area_from_geojson(obj: Any, crs: str) -> tuple[Area, tuple[str, ...]]:
    """The union of every polygon in a geometry, Feature or FeatureCollection, and the warnings."""
    warnings: list[str] = []
    parts = [
        poly
        for where, geometry in features_of(obj)
        for poly in polygons_of(geometry, where, crs, warnings)
    ]
    if not parts:
        raise InvalidGeometryError("geometry: nothing polygonal remains after dropping slivers")
    area = shapely.union_all(parts, grid_size=GRID_DEG)
    merged = [p for p in getattr(area, "geoms", [area]) if isinstance(p, Polygon)]
    kept = [without_slivers(p, "union of all polygons", warnings) for p in merged]
    polys = [orient(p) for p in kept if p is not None]
    if not polys:
        raise InvalidGeometryError("geometry: nothing polygonal remains after merging")
    return (polys[0] if len(polys) == 1 else MultiPolygon(polys)), tuple(warnings)


def features_of(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label, geometry) for a geometry, a Feature or each feature of a FeatureCollection."""
    if not isinstance(obj, dict):
        raise InvalidGeometryError("geometry: expected a GeoJSON object (a dict)")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidGeometryError("features: a FeatureCollection needs at least one feature")
        return [(label(f, n), geometry_of(f, label(f, n))) for n, f in enumerate(features)]
    if kind == "Feature":
        return [(label(obj, 0), geometry_of(obj, label(obj, 0)))]
    return [("geometry", obj)]


def label(feature: Any, n: int) -> str:
    if not isinstance(feature, dict):
        return f"feature {n}"
    props = feature.get("properties")
    props = props if isinstance(props, dict) else {}
    name = next((props[k] for k in NAME_KEYS if props.get(k) is not None), feature.get("id"))
    return f"feature {n}" + (f" ({name})" if name is not None else "")


def geometry_of(feature: Any, where: str) -> dict[str, Any]:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict):
        raise InvalidGeometryError(f"{where}: has no geometry object")
    return geometry


def polygons_of(
    geometry: dict[str, Any], where: str, crs: str, warnings: list[str]
) -> list[Polygon]:
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometryError(f"{where}: type {kind!r} is not a Polygon or MultiPolygon")
    if not isinstance(coords, list) or not coords:
        raise InvalidGeometryError(f"{where}: {kind} has no coordinates")
    raw = [coords] if kind == "Polygon" else coords
    out: list[Polygon] = []
    source: list[int] = []  # the GeoJSON polygon each part came from, for the warning
    for p, rings in enumerate(raw):
        parts = polygon_of(rings, f"{where} polygon {p}", crs, warnings)
        out, source = out + parts, source + [p] * len(parts)
    if len(out) > 1 and not MultiPolygon(out).is_valid:
        reason = shapely.is_valid_reason(MultiPolygon(out))
        warnings.append(f"{where}: {overlapping(out, source)} ({reason}); merged as their union")
    return out


def overlapping(polys: list[Polygon], source: list[int]) -> str:
    """Which parts of a MultiPolygon share more than a point; GeoJSON wants them disjoint."""
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    pairs = {(source[i], source[j]) for i, j in zip(left, right, strict=True) if i < j}
    pairs_text = ", ".join(
        f"{i} and {j}" if i != j else f"{i} (after repair)" for i, j in sorted(pairs)
    )
    return f"polygons {pairs_text} overlap or touch" if pairs else "polygons overlap"


def polygon_of(rings: Any, where: str, crs: str, warnings: list[str]) -> list[Polygon]:
    if not isinstance(rings, list) or not rings:
        raise InvalidGeometryError(f"{where}: a polygon needs an outer ring")
    shell, *holes = [ring_of(r, f"{where} ring {n}", crs, warnings) for n, r in enumerate(rings)]
    poly = Polygon(shell, holes)
    pieces = [poly] if poly.is_valid else repaired(poly, where, warnings)
    return [p for piece in pieces if (p := without_slivers(piece, where, warnings)) is not None]


def repaired(poly: Polygon, where: str, warnings: list[str]) -> list[Polygon]:
    """make_valid, keeping only the polygonal parts; the warning names the offending rings."""
    reason = shapely.is_valid_reason(poly)
    rings = [poly.exterior, *poly.interiors]
    bad = [str(n) for n, ring in enumerate(rings) if not ring.is_simple]
    which = f"ring {', '.join(bad)} self-intersects" if bad else "rings cross or touch"
    fixed = shapely.make_valid(poly)
    kept = [g for g in shapely.get_parts(fixed) if isinstance(g, Polygon)]
    kept += [g for m in shapely.get_parts(fixed) if isinstance(m, MultiPolygon) for g in m.geoms]
    if not kept:
        raise InvalidGeometryError(
            f"{where}: {which} ({reason}); nothing polygonal survives repair"
        )
    warnings.append(f"{where}: {which} ({reason}); repaired, polygonal parts kept")
    return kept


def without_slivers(poly: Polygon, where: str, warnings: list[str]) -> Polygon | None:
    if area_m2(Polygon(poly.exterior)) < SLIVER_M2:
        warnings.append(f"{where}: sliver under {SLIVER_M2:g} m² dropped")
        return None
    holes = [h for h in poly.interiors if area_m2(Polygon(h)) >= SLIVER_M2]
    if len(holes) < len(poly.interiors):
        dropped = len(poly.interiors) - len(holes)
        warnings.append(f"{where}: {dropped} sliver hole(s) under {SLIVER_M2:g} m² dropped")
        return Polygon(poly.exterior, holes)
    return poly


def area_m2(poly: Polygon) -> float:
    """Approximate ground area, good to a few per cent: enough to spot slivers."""
    lat = poly.centroid.y if not poly.is_empty else 0.0
    return float(shapely.area(poly)) * M_PER_DEG**2 * math.cos(math.radians(lat))


def ring_of(coords: Any, where: str, crs: str, warnings: list[str]) -> FloatArray:
    """A closed, densified ring as shapely (x=lon, y=lat) rows in WGS-84; refuses non-rings."""
    lonlat = positions(coords, where)
    if not np.array_equal(lonlat[0], lonlat[-1]):
        warnings.append(f"{where}: ring was not closed; closed it")
        lonlat = np.vstack([lonlat, lonlat[:1]])
    repeated = np.r_[False, np.all(np.diff(lonlat, axis=0) == 0, axis=1)]
    if repeated.any():
        warnings.append(f"{where}: {int(repeated.sum())} repeated consecutive position(s) removed")
        lonlat = lonlat[~repeated]
    if len(lonlat) < 4:
        raise InvalidGeometryError(f"{where}: a ring needs at least 4 positions (3 corners)")
    extent = float(np.ptp(lonlat, axis=0).max())
    if shapely.convex_hull(shapely.multipoints(lonlat)).area <= 1e-9 * extent**2:
        raise InvalidGeometryError(f"{where}: collapsed ring (all positions on one line)")
    dense = densified(lonlat)
    lat, lon = to_wgs84(dense[:, 1], dense[:, 0], crs)
    return xy_of(lat, lon)


def densified(lonlat: FloatArray) -> FloatArray:
    """Extra positions on long edges, the same floats whichever way a shared edge is walked.

    Neighbouring features walk their common edge in opposite directions; interpolating from the
    lexicographically smaller end keeps their positions identical, so the union leaves no seam.
    """
    start, end = lonlat[:-1], lonlat[1:]
    flip = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    low, high = np.where(flip[:, None], end, start), np.where(flip[:, None], start, end)
    steps = np.maximum(1, np.ceil(np.hypot(*(high - low).T) / DENSIFY_DEG)).astype(np.int64)
    edge = np.repeat(np.arange(len(steps)), steps)
    k = np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)
    j = np.where(flip[edge], steps[edge] - k, k)
    out = low[edge] + (high[edge] - low[edge]) * (j / steps[edge])[:, None]
    out[k == 0] = start  # the original vertices, exactly
    return np.vstack([out, lonlat[-1:]])


def positions(coords: Any, where: str) -> FloatArray:
    """GeoJSON [lon, lat(, alt)] positions as rows, refusing anything that is not a number."""
    if not isinstance(coords, list) or len(coords) < 3:
        raise InvalidGeometryError(f"{where}: a ring needs at least 4 positions (3 corners)")
    if not all(is_position(c) for c in coords):
        raise InvalidGeometryError(f"{where}: every position must be [lon, lat] finite numbers")
    lonlat = np.array([[c[0], c[1]] for c in coords], dtype=np.float64)
    if np.any(np.abs(lonlat[:, 0]) > 180) or np.any(np.abs(lonlat[:, 1]) > 90):
        raise InvalidGeometryError(f"{where}: position out of range (lon must be in ±180, lat ±90)")
    return lonlat


def is_position(c: Any) -> bool:
    return (
        isinstance(c, list | tuple)
        and len(c) >= 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in c[:2])
        and all(math.isfinite(v) for v in c[:2])
    )
