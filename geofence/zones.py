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
from h3ronpy import vector

from geofence.crs import parse_crs
from geofence.errors import GeofenceError, InvalidGeometryError, InvalidInputError
from geofence.geometry import area_from_geojson
from geofence.index import wgs84_inputs
from geofence.models import OUTSIDE, UNCERTAIN, BoolArray, CodeArray, FloatArray, IntArray
from geofence.zone_planes import (
    MARGIN_M,
    MAX_STRETCH,
    RESOLUTION,
    Plane,
    Zone,
    local_m,
    offset_m,
    planes_for,
)

COVER_M = 100.0  # pings with a larger accuracy go to the STRtree path
# Cells list every zone within reach of their centre, so a ping at most this far from its cell's
# centre is covered. H3's largest hexagons reach ~1.1x the average edge (20,000 random cells
# worldwide); a ping farther out in a listed cell takes the STRtree path.
RADIUS_EDGES = 1.5
MAX_LAT = 85.0  # nearer the poles a lat/lon buffer says little about metres: such zones refused
GRID_DEG = 0.0003  # ~30 m squares: a ping whose square no listed cell reaches skips H3 entirely
MAX_SQUARES = 1 << 24
# An H3 index at RESOLUTION ends in 3-bit digits; the last LOW_DIGITS of them address a slot
# directly inside a block, and blocks (their parents) are few: no binary search over every cell.
LOW_DIGITS = 5
SLOTS_PER_CELL = 40  # fewer digits where zones are scattered (blocks nearly empty): bounded memory
DIGIT_SHIFT = np.uint64(3 * (15 - RESOLUTION))


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
