"""ZoneIndex: every ping against thousands of exclusion zones at once, through an H3 cell map.

Each map cell (resolution 11) lists the zones within `cover_m` of any point it can hold, with,
per (cell, zone) pair, the distance from the cell's centre to the boundary, the boundary point
nearest that centre and, for convex zones, the tangent there. A ping's own offset from those
points bounds its distance to the boundary from both sides, so most pairs are certainly INSIDE,
OUTSIDE or UNCERTAIN at once; the rest take FenceIndex's exact test, vectorized over (point,
zone) pairs in one metric plane per group of nearby zones. A lat/lon bitmap skips pings far from
every zone before H3; pings whose accuracy exceeds the cover are looked up in an STRtree.
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
from pyproj import Transformer

from geofence.crs import parse_crs
from geofence.errors import GeofenceError, InvalidGeometryError, InvalidInputError
from geofence.geometry import M_PER_DEG, area_from_geojson
from geofence.index import ON_BOUNDARY_M, RESTRETCH_ABOVE, FenceIndex, wgs84_inputs
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, BoolArray, CodeArray, FloatArray
from geofence.projection import LocalProjection, aeqd_pipeline, stretch_bound

COVER_M = 100.0  # pings with a larger accuracy go to the STRtree path
RESOLUTION = 11  # cells ~57 m across: a ping is judged from its offset to its cell's centre
# Cells list every zone within reach of their centre, so a ping at most this far from its cell's
# centre is covered. H3's largest hexagons reach ~1.1x the average edge (20,000 random cells
# worldwide); a ping farther out in a listed cell takes the STRtree path.
RADIUS_EDGES = 1.5
MAX_STRETCH = 0.005  # pairs whose plane stretches more than this always take the exact path
OFFSET_M_PER_DEG = 111_700.0 * (1 + MAX_STRETCH + 0.001)  # >= metres per degree, any latitude
MARGIN_M = 0.1  # float noise, and more than the exact path's on-boundary epsilon
SLACK_DEG = 1e-4  # ~10 m of extra buffer before cells are listed: the map never misses one
QUAD_SEGS = 8
MAX_LAT = 85.0  # nearer the poles a lat/lon buffer says little about metres: such zones refused
WGS84_A, WGS84_E2 = 6_378_137.0, 0.00669437999014
GRID_DEG = 0.0003  # ~30 m squares: a ping whose square no listed cell reaches skips H3 entirely
MAX_SQUARES = 1 << 24
# An H3 index at RESOLUTION ends in 3-bit digits; the last LOW_DIGITS of them address a slot
# directly inside a block, and blocks (their parents) are few: no binary search over every cell.
LOW_DIGITS = 5
SLOTS_PER_CELL = 40  # fewer digits where zones are scattered (blocks nearly empty): bounded memory
PLANE_RESOLUTION = 2  # zones whose centres share an H3 cell this coarse (~160 km) share a plane

IntArray = np.ndarray[Any, np.dtype[np.int64]]
DIGIT_SHIFT = np.uint64(3 * (15 - RESOLUTION))
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
    lat: FloatArray  # each cell's centre
    lon: FloatArray
    starts: IntArray  # pairs of cells[i] are starts[i]:starts[i + 1]
    zone: IntArray  # zone position (not id) of each pair
    lo_m: FloatArray  # accuracy + offset from the centre below this: the side is certain
    near_lat: FloatArray  # the boundary point nearest the cell's centre (NaN: do not use)
    near_lon: FloatArray  # accuracy above a ping's offset to it: certainly UNCERTAIN
    normal_e: FloatArray  # unit normal from near to the centre, where the zone is convex and
    normal_n: FloatArray  # the centre outside it (NaN otherwise): a ping's offset along it
    slack_m: FloatArray  # less slack_m, bounds its distance to the zone from below
    side: CodeArray  # INSIDE or OUTSIDE, where lo_m says the side is certain
    radius_m: float  # pings no farther than this from their cell's centre are covered
    grid: Grid | None  # squares that listed cells reach, None where it would not pay
    slots: Slots


@dataclass(frozen=True)
class Slots:
    """Cell → position in CellMap.cells, by direct addressing within each parent block."""

    parents: np.ndarray[Any, np.dtype[np.uint64]]  # sorted
    position: np.ndarray[Any, np.dtype[np.int32]]  # -1 where the cell is not listed
    digits: int  # how many of the cell's last digits address a slot in its parent's block

    @classmethod
    def of(cls, cells: np.ndarray[Any, np.dtype[np.uint64]]) -> Slots:
        """Blocks as large as LOW_DIGITS allow while slots stay within SLOTS_PER_CELL each."""
        for digits in range(LOW_DIGITS, -1, -1):
            parents, block = np.unique(cells >> parent_shift(digits), return_inverse=True)
            if len(parents) << (3 * digits) <= SLOTS_PER_CELL * len(cells) + (1 << 20):
                break
        position = np.full(len(parents) << (3 * digits), -1, dtype=np.int32)
        slot = (block.astype(np.int64) << (3 * digits)) + low_digits(cells, digits)
        position[slot] = np.arange(len(cells), dtype=np.int32)
        return cls(parents, position, digits)

    def find(self, cells: np.ndarray[Any, np.dtype[np.uint64]]) -> IntArray:
        """Each cell's position in the map, or -1."""
        parent = cells >> parent_shift(self.digits)
        block = np.minimum(np.searchsorted(self.parents, parent), len(self.parents) - 1)
        slot = (block.astype(np.int64) << (3 * self.digits)) + low_digits(cells, self.digits)
        found = np.where(self.parents[block] == parent, self.position[slot], -1)
        return found.astype(np.int64)


def parent_shift(digits: int) -> np.uint64:
    return np.uint64(3 * (15 - RESOLUTION + digits))


def low_digits(cells: np.ndarray[Any, np.dtype[np.uint64]], digits: int) -> IntArray:
    mask = np.uint64((1 << (3 * digits)) - 1)
    return ((cells >> DIGIT_SHIFT) & mask).astype(np.int64)


@dataclass(frozen=True)
class Grid:
    """A bitmap of lat/lon squares: most pings are far from every zone, and this says so fast."""

    west: float
    south: float
    step: float
    marked: np.ndarray[Any, np.dtype[np.bool_]]  # [row, col], with an unmarked border

    def is_near(self, lat: FloatArray, lon: FloatArray) -> BoolArray:
        rows, cols = self.marked.shape
        row = np.clip((lat - self.south) / self.step + 1.0, 0, rows - 1).astype(np.intp)
        col = np.clip((lon - self.west) / self.step + 1.0, 0, cols - 1).astype(np.intp)
        return np.asarray(self.marked[row, col], dtype=np.bool_)


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
            if max(abs(area.bounds[1]), abs(area.bounds[3])) > MAX_LAT:
                raise InvalidGeometryError(
                    f"zone {zone_id}: reaches beyond ±{MAX_LAT:g}° latitude, where the cell map "
                    "cannot cover it"
                )
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
        lat_, lon_, acc = wgs84_inputs(lat, lon, accuracy_m, crs)
        mapped = acc <= self.cover_m
        point, zone, code, stray = self.from_map(lat_, lon_, acc, np.flatnonzero(mapped))
        todo = np.flatnonzero(code == OUTSIDE)  # OUTSIDE here means "not yet decided"
        code[todo] = self.exact(lat_, lon_, acc, point[todo], zone[todo])
        far = np.r_[np.flatnonzero(~mapped), stray]
        for plane in self.planes if len(far) else []:
            p, z, c = plane.far_pairs(lat_[far], lon_[far], acc[far])
            point, zone, code = np.r_[point, far[p]], np.r_[zone, z], np.r_[code, c]
        keep = code != OUTSIDE
        return ZoneHits(point[keep], self.zone_ids[zone[keep]], code[keep])

    def from_map(
        self, lat: FloatArray, lon: FloatArray, acc: FloatArray, which: IntArray
    ) -> tuple[IntArray, IntArray, CodeArray, IntArray]:
        """Pairs the map answers (INSIDE/UNCERTAIN), pairs left to the exact path (OUTSIDE),
        and the points the map does not cover."""
        m = self.map
        empty = np.empty(0, dtype=np.int64)
        if len(m.cells) == 0 or len(which) == 0:
            return empty, empty, np.empty(0, dtype=np.int8), empty
        if m.grid is not None:
            which = which[m.grid.is_near(lat[which], lon[which])]
        cells = np.asarray(vector.coordinates_to_cells(lat[which], lon[which], RESOLUTION))
        cells = cells.astype(np.uint64, copy=False)
        at = m.slots.find(cells)
        listed = at >= 0
        which, at = which[listed], at[listed]
        offset = offset_m(lat[which], lon[which], m.lat[at], m.lon[at])
        covered = offset <= m.radius_m
        stray = which[~covered]
        which, at, offset = which[covered], at[covered], offset[covered]
        counts = m.starts[at + 1] - m.starts[at]
        pair = np.repeat(m.starts[at] - np.cumsum(counts) + counts, counts)
        pair += np.arange(len(pair))
        point = np.repeat(which, counts)
        a, o = acc[point], np.repeat(offset, counts)
        sure = a + o < m.lo_m[pair]
        code = np.where(sure, m.side[pair], OUTSIDE).astype(np.int8)  # OUTSIDE: not yet known
        clear = sure & (code == OUTSIDE)
        rest = np.flatnonzero(~sure)
        code[rest], clear[rest] = self.near_boundary(lat, lon, a[rest], point[rest], pair[rest])
        keep = ~clear
        return point[keep], m.zone[pair[keep]], code[keep], stray

    def near_boundary(
        self, lat: FloatArray, lon: FloatArray, a: FloatArray, point: IntArray, pair: IntArray
    ) -> tuple[CodeArray, BoolArray]:
        """UNCERTAIN where the boundary point near the cell's centre is within reach, and
        certainly OUTSIDE where the ping is clear of a convex zone's tangent line."""
        m = self.map
        east, north = local_m(lat[point], lon[point], m.near_lat[pair], m.near_lon[pair])
        apart = np.hypot(east, north)
        across = a > apart * (1 + MAX_STRETCH + 0.001) + MARGIN_M
        along = east * m.normal_e[pair] + north * m.normal_n[pair]
        clear = along - 0.008 * apart - m.slack_m[pair] > a
        return np.where(across, UNCERTAIN, OUTSIDE).astype(np.int8), clear & ~across

    def exact(
        self, lat: FloatArray, lon: FloatArray, acc: FloatArray, point: IntArray, zone: IntArray
    ) -> CodeArray:
        codes = np.empty(len(point), dtype=np.int8)
        planes = self.plane_of_zone[zone]
        for n in np.unique(planes):
            mine = np.flatnonzero(planes == n)
            p, z = point[mine], zone[mine]
            codes[mine] = self.planes[n].exact(lat[p], lon[p], acc[p], z)
        return codes


def build_map(planes: list[Plane], cover_m: float) -> CellMap:
    radius_m = RADIUS_EDGES * h3.average_hexagon_edge_length(RESOLUTION, "m")
    parts = [plane.map_pairs(cover_m, radius_m) for plane in planes]
    columns = [np.concatenate([p[k] for p in parts]) for k in range(11)] if parts else []
    if not columns or len(columns[0]) == 0:
        no = np.empty(0)
        columns = [no.astype(np.uint64), no, no, no.astype(np.int64), *[no] * 6, no.astype(np.int8)]
    order = np.argsort(columns[0], kind="stable")
    cell, lat, lon, zone, *bounds, side = (c[order] for c in columns)
    cells, first = np.unique(cell, return_index=True)
    starts = np.r_[first, len(cell)].astype(np.int64)
    lat, lon = lat[first], lon[first]
    grid = grid_of(lat, lon, radius_m) if len(cells) else None
    lo_m, near_lat, near_lon, normal_e, normal_n, slack_m = bounds
    cells = cells.astype(np.uint64)
    return CellMap(
        cells, lat, lon, starts, zone.astype(np.int64), lo_m, near_lat, near_lon, normal_e,
        normal_n, slack_m, side.astype(np.int8), radius_m, grid, Slots.of(cells),
    )  # fmt: skip


def grid_of(lat: FloatArray, lon: FloatArray, radius_m: float) -> Grid | None:
    """Mark every square a listed cell's disc (radius_m around its centre) overlaps."""
    reach_deg = (radius_m + 1.0) / 110_574.0  # metres per degree of latitude are at least this
    coslat = np.cos(np.radians(np.minimum(np.abs(lat) + 0.01, 90.0)))
    if np.any(coslat < 0.1):
        return None  # near a pole the squares would be too narrow to mean anything
    east_deg = reach_deg / coslat
    if np.any(np.abs(lon) + east_deg >= 180.0):
        return None  # across the antimeridian the box would wrap
    west, east = float(np.min(lon - east_deg)), float(np.max(lon + east_deg))
    south, north = float(np.min(lat - reach_deg)), float(np.max(lat + reach_deg))
    step = max(GRID_DEG, float(np.sqrt((east - west) * (north - south) / MAX_SQUARES)))
    marked = np.zeros((int((north - south) / step) + 3, int((east - west) / step) + 3), np.bool_)
    r0 = ((lat - reach_deg - south) / step + 1).astype(np.intp)
    r1 = ((lat + reach_deg - south) / step + 1).astype(np.intp)
    c0 = ((lon - east_deg - west) / step + 1).astype(np.intp)
    c1 = ((lon + east_deg - west) / step + 1).astype(np.intp)
    for dr in range(int(np.max(r1 - r0)) + 1):
        for dc in range(int(np.max(c1 - c0)) + 1):
            marked[np.minimum(r0 + dr, r1), np.minimum(c0 + dc, c1)] = True
    return Grid(west, south, step, marked)


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
