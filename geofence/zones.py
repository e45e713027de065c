"""ZoneIndex: every ping against thousands of exclusion zones at once, through an H3 cell map.

Each map cell lists the zones that come within `cover_m` of its hexagon, with bounds on the
distance from the whole hexagon (not its centre) to each zone's boundary: a ping whose accuracy is
below the lower bound is certainly inside (or outside) that zone, one above the upper bound is
certainly across it, and only the pings between take the exact path, FenceIndex's test
vectorized over (point, zone) pairs. A ping whose cell lists nothing is outside every zone; one
whose accuracy exceeds the cover is looked up in an STRtree of the zones instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import numpy.typing as npt
import shapely
from h3ronpy import ContainmentMode, vector

from geofence.cells import wkb_of
from geofence.crs import parse_crs, to_wgs84
from geofence.errors import GeofenceError, InvalidInputError
from geofence.geometry import M_PER_DEG, area_from_geojson
from geofence.index import ON_BOUNDARY_M, RESTRETCH_ABOVE, FenceIndex, checked_inputs
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, CodeArray, Crs, FloatArray
from geofence.projection import LocalProjection, stretch_bound

COVER_M = 100.0  # pings with a larger accuracy go to the STRtree path
RESOLUTION = 11  # hexagons ~50 m across: the band the exact path must settle stays thin
MARGIN_M = 1.0  # covers H3 edges drawn straight and the exact path's on-boundary epsilon
SLACK_DEG = 1e-4  # ~10 m of extra buffer before the cells are listed: the map never misses one
QUAD_SEGS = 8
PLANE_RESOLUTION = 2  # zones whose centres share an H3 cell this coarse (~160 km) share a plane

IntArray = np.ndarray[Any, np.dtype[np.int64]]
Zone = tuple[int, dict[str, Any], str]
Objects = np.ndarray[Any, np.dtype[np.object_]]


@dataclass(frozen=True)
class ZoneHits:
    """The (point, zone) pairs that are not OUTSIDE, in no particular order."""

    point: IntArray  # index into the classified arrays
    zone: IntArray  # zone id
    code: CodeArray  # INSIDE or UNCERTAIN

    def __len__(self) -> int:
        return len(self.point)


@dataclass(frozen=True)
class CellMap:
    cells: np.ndarray[Any, np.dtype[np.uint64]]  # sorted
    starts: IntArray  # pairs of cells[i] are starts[i]:starts[i + 1]
    zone: IntArray  # zone position (not id) of each pair
    lo_m: FloatArray  # accuracy below this: the pair's side is certain
    hi_m: FloatArray  # accuracy above this: certainly UNCERTAIN
    side: CodeArray  # INSIDE or OUTSIDE where lo_m > 0


class ZoneIndex:
    def __init__(
        self, zone_ids: IntArray, areas: list[Any], warnings: tuple[str, ...], cover_m: float
    ) -> None:
        self.zone_ids = zone_ids
        self.areas = areas  # WGS-84, shapely x=lon, y=lat
        self.warnings = warnings
        self.cover_m = cover_m
        self.planes = planes_for(areas)
        self.plane_of_zone = np.zeros(len(areas), dtype=np.int64)
        for n, plane in enumerate(self.planes):
            self.plane_of_zone[plane.members] = n
        self.map = build_map(self.planes, cover_m)

    @classmethod
    def from_zones(cls, zones: Iterable[Zone], *, cover_m: float = COVER_M) -> ZoneIndex:
        ids, areas, warnings = [], [], []
        for zone_id, geometry, crs in zones:
            try:
                area, found = area_from_geojson(geometry, parse_crs(crs))
            except GeofenceError as error:
                raise type(error)(f"zone {zone_id}: {error}") from None
            ids.append(int(zone_id))
            areas.append(area)
            warnings += [f"zone {zone_id}: {warning}" for warning in found]
        order = np.argsort(ids, kind="stable")
        zone_ids = np.asarray(ids, dtype=np.int64)[order]
        repeated = zone_ids[1:][zone_ids[1:] == zone_ids[:-1]]
        if len(repeated):
            raise InvalidInputError(f"zone {repeated[0]}: zone id given more than once")
        return cls(zone_ids, [areas[i] for i in order], tuple(warnings), cover_m)

    def __len__(self) -> int:
        return len(self.zone_ids)

    def classify(
        self,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        accuracy_m: npt.ArrayLike,
        *,
        crs: str = "wgs84",
    ) -> ZoneHits:
        """Every (point, zone) pair that is INSIDE or UNCERTAIN; all others are OUTSIDE."""
        lat_, lon_, acc = checked_inputs(lat, lon, accuracy_m)
        if parse_crs(crs, argument="crs") is not Crs.WGS84:
            lat_, lon_ = to_wgs84(lat_, lon_, crs)
        mapped = acc <= self.cover_m
        point, zone, code = self.from_map(lat_, lon_, acc, np.flatnonzero(mapped))
        far = np.flatnonzero(~mapped)
        for plane in self.planes:
            p, z = plane.candidates(lat_[far], lon_[far], acc[far] + ON_BOUNDARY_M)
            point, zone = np.r_[point, far[p]], np.r_[zone, z]
            code = np.r_[code, np.full(len(p), OUTSIDE, dtype=np.int8)]
        todo = np.flatnonzero(code == OUTSIDE)  # OUTSIDE here means "not yet decided"
        code[todo] = self.exact(lat_, lon_, acc, point[todo], zone[todo])
        keep = code != OUTSIDE
        return ZoneHits(point[keep], self.zone_ids[zone[keep]], code[keep])

    def from_map(
        self, lat: FloatArray, lon: FloatArray, acc: FloatArray, which: IntArray
    ) -> tuple[IntArray, IntArray, CodeArray]:
        """Pairs the map answers (INSIDE/UNCERTAIN) and pairs left to the exact path (OUTSIDE)."""
        m = self.map
        empty = np.empty(0, dtype=np.int64)
        if len(m.cells) == 0 or len(which) == 0:
            return empty, empty, np.empty(0, dtype=np.int8)
        cells = np.asarray(vector.coordinates_to_cells(lat[which], lon[which], RESOLUTION))
        cells = cells.astype(np.uint64, copy=False)
        at = np.minimum(np.searchsorted(m.cells, cells), len(m.cells) - 1)
        listed = m.cells[at] == cells
        which, at = which[listed], at[listed]
        counts = m.starts[at + 1] - m.starts[at]
        pair = np.repeat(m.starts[at] - np.cumsum(counts) + counts, counts)
        pair += np.arange(len(pair))
        point = np.repeat(which, counts)
        a = acc[point]
        sure = a < m.lo_m[pair]
        code = np.where(sure, m.side[pair], np.where(a > m.hi_m[pair], UNCERTAIN, OUTSIDE))
        keep = ~sure | (code == INSIDE)
        return point[keep], m.zone[pair[keep]], code[keep].astype(np.int8)

    def exact(
        self, lat: FloatArray, lon: FloatArray, acc: FloatArray, point: IntArray, zone: IntArray
    ) -> CodeArray:
        codes = np.empty(len(point), dtype=np.int8)
        planes = self.plane_of_zone[zone]
        for n, plane in enumerate(self.planes):
            mine = np.flatnonzero(planes == n)
            if len(mine):
                p, z = point[mine], zone[mine]
                codes[mine] = plane.exact(lat[p], lon[p], acc[p], z)
        return codes


def build_map(planes: list[Plane], cover_m: float) -> CellMap:
    parts = [plane.map_pairs(cover_m) for plane in planes]
    cell = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.uint64)
    columns = [np.concatenate([p[k] for p in parts]) if parts else np.empty(0) for k in (1, 2, 3)]
    zone, lo_m, hi_m = columns[0].astype(np.int64), columns[1], columns[2]
    side = np.concatenate([p[4] for p in parts]) if parts else np.empty(0, np.int8)
    order = np.argsort(cell, kind="stable")
    cell = cell[order]
    cells, first = np.unique(cell, return_index=True)
    starts = np.r_[first, len(cell)].astype(np.int64)
    return CellMap(cells, starts, zone[order], lo_m[order], hi_m[order], side[order])


def buffered_cells(areas: list[Any], reach_m: float, resolution: int) -> Any:
    """Every cell whose hexagon comes within reach_m of an area (a superset; dwithin trims it)."""
    lat_max = max(max(abs(a.bounds[1]), abs(a.bounds[3])) for a in areas)
    scale = M_PER_DEG * max(np.cos(np.radians(min(lat_max + 1.0, 89.0))), 0.01)
    # the buffer's arcs are drawn as chords: widen it so the chords stay outside reach_m
    width = (reach_m / scale + SLACK_DEG) / np.cos(np.pi / (4 * QUAD_SEGS))
    grown = shapely.buffer(np.asarray(areas, dtype=object), width, quad_segs=QUAD_SEGS)
    cells = vector.wkb_to_cells(
        shapely.to_wkb(grown),
        resolution,
        containment_mode=ContainmentMode.IntersectsBoundary,
        flatten=True,
    )
    unique = np.unique(np.asarray(cells, dtype=np.uint64))
    return unique, shapely.from_wkb(wkb_of(unique))


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

    def rows_to_xy(self, rows: FloatArray) -> FloatArray:
        x, y = self.projection.to_xy(rows[:, 1], rows[:, 0])
        return np.column_stack([x, y])

    def candidates(
        self, lat: FloatArray, lon: FloatArray, reach_m: FloatArray
    ) -> tuple[IntArray, IntArray]:
        """(point, zone position) pairs that may be INSIDE or UNCERTAIN, stretch allowed for."""
        if len(lat) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        x, y = self.projection.to_xy(lat, lon)
        stretch = stretch_bound(np.hypot(x, y) + 2 * reach_m)
        p, j = self.tree.query(shapely.points(x, y), "dwithin", distance=reach_m * (1 + stretch))
        return p.astype(np.int64), self.members[j]

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

    def map_pairs(self, cover_m: float) -> tuple[Any, ...]:
        """(cell, zone, lo_m, hi_m, side) for every hexagon within cover_m of a member zone."""
        reach = cover_m + MARGIN_M
        cells, hexes = buffered_cells([self.areas[z] for z in self.members], reach, RESOLUTION)
        hexes = shapely.transform(hexes, self.rows_to_xy)
        i, j = self.tree.query(hexes, "dwithin", distance=reach)
        zone = self.members[j]
        centres = shapely.centroid(hexes)
        radius = shapely.hausdorff_distance(centres, hexes)[i] + MARGIN_M
        cx, cy = shapely.get_x(centres)[i], shapely.get_y(centres)[i]
        lo = shapely.distance(hexes[i], self.boundaries_m[zone])
        hi = shapely.distance(centres[i], self.boundaries_m[zone]) + radius + MARGIN_M
        inside = shapely.contains_xy(self.areas_m[zone], cx, cy)
        lo = lo / (1 + stretch_bound(np.hypot(cx, cy) + radius + lo)) - MARGIN_M
        keep = inside | (lo < cover_m)  # an outside pair clear by the cover is never a candidate
        side = np.where(inside, INSIDE, OUTSIDE).astype(np.int8)
        return cells[i][keep], zone[keep], lo[keep], hi[keep], side[keep]


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
