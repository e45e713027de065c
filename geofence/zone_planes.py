"""ZoneIndex's projection groups: zones near each other share one metric plane, where their
exact tests and their cell map's distance bounds are computed.
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import shapely
from h3ronpy import ContainmentMode, vector
from pyproj import Transformer

from geofence.geometry import M_PER_DEG
from geofence.index import ON_BOUNDARY_M, RESTRETCH_ABOVE, FenceIndex
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, CodeArray, FloatArray, IntArray
from geofence.projection import LocalProjection, aeqd_pipeline, stretch_bound

RESOLUTION = 11  # cells ~57 m across: a ping is judged from its offset to its cell's centre
MAX_STRETCH = 0.005  # pairs whose plane stretches more than this always take the exact path
OFFSET_M_PER_DEG = 111_700.0 * (1 + MAX_STRETCH + 0.001)  # >= metres per degree, any latitude
MARGIN_M = 0.1  # float noise, and more than the exact path's on-boundary epsilon
SLACK_DEG = 1e-4  # ~10 m of extra buffer before cells are listed: the map never misses one
QUAD_SEGS = 8
WGS84_A, WGS84_E2 = 6_378_137.0, 0.00669437999014
PLANE_RESOLUTION = 2  # zones whose centres share an H3 cell this coarse (~160 km) share a plane

Zone = tuple[int, dict[str, Any], str]
Objects = np.ndarray[Any, np.dtype[np.object_]]


def local_m(
    lat: FloatArray, lon: FloatArray, lat0: FloatArray, lon0: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(east, north) metres from nearby (lat0, lon0), with the ellipsoid's scales at lat0."""
    sin2 = np.sin(np.radians(lat0)) ** 2
    w = np.sqrt(1 - WGS84_E2 * sin2)
    north = (lat - lat0) * np.radians(WGS84_A * (1 - WGS84_E2) / w**3)
    east = ((lon - lon0 + 180.0) % 360.0 - 180.0) * np.radians(WGS84_A / w)
    return east * np.cos(np.radians(lat0)), north


def offset_m(lat: FloatArray, lon: FloatArray, lat0: FloatArray, lon0: FloatArray) -> FloatArray:
    """An upper bound of the ground distance between nearby points (tens of metres)."""
    east = ((lon - lon0 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(lat))
    return np.asarray(np.hypot(lat - lat0, east) * OFFSET_M_PER_DEG, dtype=np.float64)


def folded_at_antimeridian(grown: Objects) -> Objects:
    """Buffers that cross ±180° folded onto the other side, as H3's polygon fill expects."""
    bounds = shapely.bounds(grown)
    folded = grown.copy()
    for z in np.flatnonzero((bounds[:, 0] < -180.0) | (bounds[:, 2] > 180.0)):
        parts = [
            shapely.transform(
                shapely.intersection(grown[z], shapely.box(w, -90, w + 360, 90)), fold
            )
            for w, fold in ((-180, _same), (180, _west), (-540, _east))
        ]
        folded[z] = shapely.union_all([p for p in parts if not p.is_empty])
    return folded


def _same(rows: FloatArray) -> FloatArray:
    return rows


def _west(rows: FloatArray) -> FloatArray:
    return np.asarray(rows - np.array([360.0, 0.0]), dtype=np.float64)


def _east(rows: FloatArray) -> FloatArray:
    return np.asarray(rows + np.array([360.0, 0.0]), dtype=np.float64)


def centre_cells(areas: list[Any], reach_m: float, resolution: int) -> Any:
    """Every cell whose centre lies within reach_m of an area (a superset; dwithin trims it)."""
    lat_max = max(max(abs(a.bounds[1]), abs(a.bounds[3])) for a in areas)
    scale = M_PER_DEG * max(np.cos(np.radians(min(lat_max + 1.0, 89.0))), 0.01)
    # the buffer's arcs are drawn as chords: widen it so the chords stay outside reach_m
    width = (reach_m / scale + SLACK_DEG) / np.cos(np.pi / (4 * QUAD_SEGS))
    grown = shapely.buffer(np.asarray(areas, dtype=object), width, quad_segs=QUAD_SEGS)
    cells = vector.wkb_to_cells(
        shapely.to_wkb(folded_at_antimeridian(grown)),
        resolution,
        containment_mode=ContainmentMode.ContainsCentroid,
        flatten=True,
    )
    unique = np.unique(np.asarray(cells, dtype=np.uint64))
    centres = vector.cells_to_coordinates(unique)
    lat = np.asarray(centres.column("lat"), dtype=np.float64)
    lon = np.asarray(centres.column("lng"), dtype=np.float64)
    return unique, lat, lon


class Plane:
    """Zones near each other, projected into one metric plane, with their STRtree."""

    def __init__(self, members: IntArray, areas: list[Any], areas_m: Objects, bounds_m: Objects):
        self.members = members  # zone positions, ascending
        self.areas, self.areas_m, self.boundaries_m = areas, areas_m, bounds_m  # by zone position
        west, south, east, north = shapely.total_bounds([areas[z] for z in members])
        self.projection = LocalProjection(
            lat0=float(south + north) / 2, lon0=float(west + east) / 2
        )
        mine = np.asarray([areas[z] for z in members], dtype=object)
        areas_m[members] = shapely.transform(mine, self.rows_to_xy)
        bounds_m[members] = shapely.boundary(areas_m[members])
        shapely.prepare(areas_m[members])
        shapely.prepare(bounds_m[members])
        self.tree = shapely.STRtree(areas_m[members])
        self.convex_slack = np.full(len(areas), np.nan)  # by zone position; NaN: not convex
        hull = shapely.area(shapely.convex_hull(areas_m[members]))
        convex = hull <= shapely.area(areas_m[members]) * (1 + 1e-6)
        west_m, south_m, east_m, north_m = shapely.bounds(areas_m[members]).T
        # the tangent line is drawn in a local plane, not the projection's: allow its turn
        slack = 1e-3 * np.hypot(east_m - west_m, north_m - south_m) + MARGIN_M
        self.convex_slack[members[convex]] = slack[convex]

    def rows_to_xy(self, rows: FloatArray) -> FloatArray:
        x, y = self.projection.to_xy(rows[:, 1], rows[:, 0])
        return np.column_stack([x, y])

    def far_pairs(
        self, lat: FloatArray, lon: FloatArray, acc: FloatArray
    ) -> tuple[IntArray, IntArray, CodeArray]:
        """(point, zone position, code) for pings beyond the map's cover, from the STRtree.

        A ping outside a zone it is within reach of is UNCERTAIN (its distance to the zone is
        its distance to the boundary): only pings inside a zone, or where the plane stretches,
        need the exact test."""
        x, y = self.projection.to_xy(lat, lon)
        stretch = stretch_bound(np.hypot(x, y) + 2 * acc)
        flat = stretch <= RESTRETCH_ABOVE
        reach = (acc + ON_BOUNDARY_M) * np.where(flat, 1.0, 1 + stretch)
        p, j = self.tree.query(shapely.points(x, y), "dwithin", distance=reach)
        zone = self.members[j]
        settled = flat[p] & ~shapely.contains_xy(self.areas_m[zone], x[p], y[p])
        code = np.full(len(p), UNCERTAIN, dtype=np.int8)
        rest = np.flatnonzero(~settled)
        q = p[rest]
        code[rest] = self.exact(lat[q], lon[q], acc[q], zone[rest])
        return p.astype(np.int64), zone, code

    def exact(self, lat: FloatArray, lon: FloatArray, acc: FloatArray, zone: IntArray) -> CodeArray:
        """FenceIndex.classify_exact, one (point, zone) pair per element."""
        x, y = self.projection.to_xy(lat, lon)
        points = shapely.points(x, y)
        near = shapely.dwithin(self.boundaries_m[zone], points, acc + ON_BOUNDARY_M)
        inside = shapely.contains_xy(self.areas_m[zone], x, y)
        codes = np.where(near, UNCERTAIN, np.where(inside, INSIDE, OUTSIDE)).astype(np.int8)
        stretch = stretch_bound(np.hypot(x, y) + 2 * acc)
        suspect = np.flatnonzero(~near & (stretch > RESTRETCH_ABOVE))
        if len(suspect):
            reach = acc[suspect] * (1 + stretch[suspect]) + ON_BOUNDARY_M
            boundaries = self.boundaries_m[zone[suspect]]
            suspect = suspect[shapely.dwithin(boundaries, points[suspect], reach)]
        for i in suspect:
            fence = FenceIndex(self.areas[zone[i]])
            if fence.ground_distance_m(float(lat[i]), float(lon[i])) <= acc[i] + ON_BOUNDARY_M:
                codes[i] = UNCERTAIN
        return codes

    def map_pairs(self, cover_m: float, radius_m: float) -> tuple[Any, ...]:
        """(cell, centre lat, lon, zone, lo_m, near lat, lon, side) for cells near the zones."""
        reach = (cover_m + ON_BOUNDARY_M + radius_m) * (1 + MAX_STRETCH) + MARGIN_M
        areas = [self.areas[z] for z in self.members]
        cells, lat, lon = centre_cells(areas, reach, RESOLUTION)
        x, y = self.projection.to_xy(lat, lon)
        i, j = self.tree.query(shapely.points(x, y), "dwithin", distance=reach)
        zone, x, y = self.members[j], x[i], y[i]
        d = shapely.distance(shapely.points(x, y), self.boundaries_m[zone])
        inside = shapely.contains_xy(self.areas_m[zone], x, y)
        stretch = stretch_bound(np.hypot(x, y) + d + radius_m)
        lo = np.where(stretch <= MAX_STRETCH, (d - MARGIN_M) / (1 + stretch), -np.inf)
        keep = inside | (lo <= cover_m + radius_m)  # outside and clear of every covered ping
        i, zone, x, y, lo = i[keep], zone[keep], x[keep], y[keep], lo[keep]
        near_lat, near_lon = self.nearest_on_boundary(x, y, zone)
        near_lat[np.isinf(lo)] = np.nan  # stretched too much: a bound measured here is not one
        east, north = local_m(lat[i], lon[i], near_lat, near_lon)
        apart = np.hypot(east, north)
        usable = ~inside[keep] & (apart > 0) & np.isfinite(self.convex_slack[zone])
        normal_e = np.where(usable, east / np.where(usable, apart, 1.0), np.nan)
        normal_n = np.where(usable, north / np.where(usable, apart, 1.0), np.nan)
        side = np.where(inside[keep], INSIDE, OUTSIDE).astype(np.int8)
        bounds = (lo, near_lat, near_lon, normal_e, normal_n, self.convex_slack[zone])
        return cells[i], lat[i], lon[i], zone, *bounds, side

    def nearest_on_boundary(
        self, x: FloatArray, y: FloatArray, zone: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) of the boundary point of each zone nearest to (x, y)."""
        lines = shapely.shortest_line(shapely.points(x, y), self.boundaries_m[zone])
        ends = shapely.get_coordinates(lines)[1::2]
        inverse = Transformer.from_pipeline(
            aeqd_pipeline(self.projection.lat0, self.projection.lon0)
        )
        lon, lat = inverse.transform(ends[:, 0], ends[:, 1], direction="INVERSE")
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def planes_for(areas: list[Any]) -> list[Plane]:
    """One plane per coarse H3 cell holding zone centres: ranges stay short, stretch tiny."""
    areas_m = np.empty(len(areas), dtype=object)
    bounds_m = np.empty(len(areas), dtype=object)
    groups: dict[int, list[int]] = {}
    for z, area in enumerate(areas):
        west, south, east, north = area.bounds
        key = h3.latlng_to_cell((south + north) / 2, (west + east) / 2, PLANE_RESOLUTION)
        groups.setdefault(key, []).append(z)
    members = [np.asarray(group, dtype=np.int64) for group in groups.values()]
    return [Plane(m, areas, areas_m, bounds_m) for m in members]
