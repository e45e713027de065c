"""Table shortcut for classify: per grid cell, bounds on every point's distance to the boundary.

The grid is regular in lon/lat, so finding a ping's cell is two multiplications (H3's
latlng_to_cell alone costs more than classify's whole budget: see
docs/decisions/0023-fence-cell-table.md). Coarse
cells (~400 m) cover the fence's box plus a buffer; those within FINE_WITHIN_M of the boundary
are split into 16x16 fine cells (~25 m). Each cell stores lo ≤ distance ≤ hi for all its points
(1-Lipschitz: the centre's exact distance ± the cell's radius, with a margin) and the side of the
whole cell: accuracy below lo is INSIDE/OUTSIDE, accuracy at or above hi is UNCERTAIN, anything
between goes to the exact path. Beyond the grid a point is OUTSIDE when its accuracy is below
the buffer's width. So a table answer is always the one the exact path would give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from h3ronpy import vector

from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, CodeArray, FloatArray
from geofence.projection import MIN_RADIUS_M, LocalProjection, stretch_bound

UNKNOWN = np.int8(-128)  # lookup's "ask the exact path"
FINE = 16  # fine cells per coarse cell, along each axis (a power of two: lookup shifts)
SHIFT = FINE.bit_length() - 1
COARSE_MIN_DEG = 0.004  # ~400 m: fine cells of ~25 m
MAX_COARSE_CELLS = 60_000
FINE_WITHIN_M = 300.0  # coarse cells this close to the boundary get fine cells
BUFFER_DEG = 0.05  # the grid reaches ~5 km beyond the fence's box
MAX_SPAN_DEG = 20.0  # beyond this (or across ±180°) the table is not worth its memory
MAX_LAT_DEG = 85.0
MARGIN_M = 1.0  # covers float rounding and the exact path's on-boundary epsilon
CHUNK = 4_000_000  # (fine centre, segment) distances computed at once: ~100 MB
MAX_CURVATURE_M = 6_399_594.0  # the largest radius of curvature of the WGS-84 ellipsoid

Int64Array = np.ndarray[Any, np.dtype[np.int64]]
Int32Array = np.ndarray[Any, np.dtype[np.int32]]
Float32Array = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class Grid:
    west: float  # lon/lat of the grid's south-west corner
    south: float
    step_lon: float  # fine cell size, degrees
    step_lat: float
    ncx: int  # coarse cells along lon and lat
    ncy: int

    def fine_centres(self, ix: FloatArray, iy: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) of fine cells' centres, from fine column and row numbers."""
        return self.south + (iy + 0.5) * self.step_lat, self.west + (ix + 0.5) * self.step_lon

    def radius_m(self, lat: FloatArray, size: int, stretch: float) -> FloatArray:
        """Bound, in the plane, of the distance from a cell's centre to any of its points.

        size is the cell's width in fine cells; lat the centre's latitude. Half the ground
        diagonal (the equatorward side's longitude scale, the largest curvature radius), with
        0.1% for the curvature of projected edges, then the plane's stretch.
        """
        half_lat = math.radians(self.step_lat * size) / 2
        half_lon = math.radians(self.step_lon * size) / 2
        cos_max = np.cos(np.maximum(np.abs(np.radians(lat)) - half_lat, 0.0))
        ground = MAX_CURVATURE_M * np.hypot(half_lat, half_lon * cos_max)
        return np.asarray(ground * 1.001 * (1.0 + stretch) + 0.01, dtype=np.float64)


@dataclass(frozen=True)
class CellTable:
    """Entries for every cell of the grid and a ring of one coarse cell around it.

    The ring's cells all point at one entry for "beyond the grid", so lookup needs no branch.
    """

    grid: Grid
    slot: Int32Array  # per coarse cell of the ringed grid: its entry, or its first fine entry
    sub_mask: Int32Array  # per coarse cell: 0, or FINE² − 1 where it has fine entries
    lo_m: Float32Array  # per entry: every point of the cell is at least this far ...
    hi_m: Float32Array  # ... and at most this far from the boundary (float32: half the gathers)
    codes: CodeArray  # INSIDE or OUTSIDE where lo_m > 0

    def lookup(self, lat: FloatArray, lon: FloatArray, accuracy_m: FloatArray) -> CodeArray:
        """The code where the table is sure of it, UNKNOWN where the exact path must decide."""
        entry = self.entries(lat, lon)
        codes = np.where(accuracy_m >= self.hi_m[entry], UNCERTAIN, UNKNOWN)
        np.copyto(codes, self.codes[entry], where=accuracy_m < self.lo_m[entry])
        return codes

    def entries(self, lat: FloatArray, lon: FloatArray) -> Int32Array:
        """The entry of each point's cell: two multiplications, shifts and two look-ups."""
        g = self.grid
        ix = _ringed_index(lon, g.west - FINE * g.step_lon, g.step_lon, g.ncx)
        iy = _ringed_index(lat, g.south - FINE * g.step_lat, g.step_lat, g.ncy)
        coarse = (iy >> SHIFT) * (g.ncx + 2) + (ix >> SHIFT)
        sub = ((iy & (FINE - 1)) << SHIFT) | (ix & (FINE - 1))
        entry: Int32Array = self.slot[coarse] + (sub & self.sub_mask[coarse])
        return entry


def _ringed_index(degrees: FloatArray, origin: float, step: float, cells: int) -> Int32Array:
    """Fine cell number along one axis; anything beyond the grid lands in the ring."""
    fine = (degrees - origin) * (1.0 / step)
    np.clip(fine, 0.0, (cells + 2) * FINE - 0.5, out=fine)
    return fine.astype(np.int32)


def build_table(
    area_m: Any, boundary_m: Any, projection: LocalProjection, bounds: tuple[float, ...]
) -> CellTable | None:
    """The table for a prepared metric area and boundary; None when the fence is unsuitable."""
    grid = choose_grid(bounds)
    if grid is None or boundary_m.is_empty:
        return None
    stretch = float(stretch_bound(grid_reach_m(grid, projection)))
    ix, iy = coarse_cells(grid)
    lat, lon = grid.fine_centres(ix, iy)
    x, y = projection.to_xy(lat, lon)
    radius = grid.radius_m(lat, FINE, stretch)
    segments = Segments(boundary_m)
    distance = segments.nearest_m(x, y)
    coarse = bounded_entries(area_m, x, y, distance, radius, stretch)
    near = np.flatnonzero(distance - radius < FINE_WITHIN_M)
    centres = Centres(ix[near], iy[near], x[near], y[near], distance[near] + 2 * radius[near])
    fine = fine_entries(area_m, segments, projection, grid, centres, stretch)
    return assemble(grid, coarse, fine, near, far_m(grid, bounds, stretch))


def choose_grid(bounds: tuple[float, ...]) -> Grid | None:
    west, south, east, north = bounds
    if east - west > MAX_SPAN_DEG or north - south > MAX_SPAN_DEG:
        return None
    if west - 2 * BUFFER_DEG < -180 or east + 2 * BUFFER_DEG > 180:
        return None  # lon/lat cells do not wrap: a ping across ±180° is near, not "far"
    if max(abs(south), abs(north)) + BUFFER_DEG > MAX_LAT_DEG:
        return None
    cos_mid = math.cos(math.radians((south + north) / 2))
    width, height = east - west + 2 * BUFFER_DEG, north - south + 2 * BUFFER_DEG
    step_lat = max(COARSE_MIN_DEG, math.sqrt(width * cos_mid * height / MAX_COARSE_CELLS))
    step_lon = step_lat / cos_mid
    ncx, ncy = math.ceil(width / step_lon), math.ceil(height / step_lat)
    return Grid(west - BUFFER_DEG, south - BUFFER_DEG, step_lon / FINE, step_lat / FINE, ncx, ncy)


def grid_reach_m(grid: Grid, projection: LocalProjection) -> float:
    """How far from the plane's centre a grid point, or a boundary point near one, can be."""
    lat = grid.south + np.array([0.0, 0.0, 1.0, 1.0]) * grid.ncy * FINE * grid.step_lat
    lon = grid.west + np.array([0.0, 1.0, 0.0, 1.0]) * grid.ncx * FINE * grid.step_lon
    x, y = projection.to_xy(lat, lon)
    return float(np.max(np.hypot(x, y)) * 1.1 + 10_000.0)


def coarse_cells(grid: Grid) -> tuple[FloatArray, FloatArray]:
    """Fine column and row (fractional) of each coarse cell's centre, row-major like lookup."""
    cy, cx = np.divmod(np.arange(grid.ncx * grid.ncy, dtype=np.float64), grid.ncx)
    return cx * FINE + (FINE // 2 - 0.5), cy * FINE + (FINE // 2 - 0.5)


class Segments:
    """The boundary's straight segments in a tree: exact planar distances in bulk."""

    def __init__(self, boundary_m: Any) -> None:
        parts = [shapely.get_coordinates(part) for part in shapely.get_parts(boundary_m)]
        ends = np.concatenate([np.stack([c[:-1], c[1:]], axis=1) for c in parts])
        self.tree = shapely.STRtree(shapely.linestrings(ends))
        self.start, self.vector = ends[:, 0], ends[:, 1] - ends[:, 0]
        self.length2 = np.maximum(np.einsum("ij,ij->i", self.vector, self.vector), 1e-300)

    def nearest_m(self, x: FloatArray, y: FloatArray) -> FloatArray:
        points = shapely.points(x, y)
        _, distance = self.tree.query_nearest(points, return_distance=True, all_matches=False)
        return np.asarray(distance, dtype=np.float64)

    def within(self, x: FloatArray, y: FloatArray, reach_m: FloatArray) -> Int64Array:
        """(point, segment) pairs closer than reach_m, sorted by point."""
        pairs = self.tree.query(shapely.points(x, y), predicate="dwithin", distance=reach_m)
        return np.asarray(pairs, dtype=np.int64)

    def distance_m(self, x: FloatArray, y: FloatArray, segment: Int64Array) -> FloatArray:
        """Distance from each point to the segment beside it (broadcast), as GEOS computes it."""
        sx, sy = self.start[segment, 0], self.start[segment, 1]
        vx, vy = self.vector[segment, 0], self.vector[segment, 1]
        t = np.clip(((x - sx) * vx + (y - sy) * vy) / self.length2[segment], 0.0, 1.0)
        return np.asarray(np.hypot(sx + t * vx - x, sy + t * vy - y), dtype=np.float64)


@dataclass(frozen=True)
class Centres:
    """Coarse cells' centres: fine column and row, plane coordinates, and how far away the
    nearest segment to any point of the cell can be (distance + 2·radius: 1-Lipschitz)."""

    ix: FloatArray
    iy: FloatArray
    x: FloatArray
    y: FloatArray
    reach_m: FloatArray


def fine_entries(
    area_m: Any,
    segments: Segments,
    projection: LocalProjection,
    grid: Grid,
    coarse: Centres,
    stretch: float,
) -> tuple[FloatArray, FloatArray, CodeArray]:
    """lo, hi and codes of the fine cells of the given coarse cells, FINE² per coarse cell."""
    offsets = np.arange(FINE, dtype=np.float64) - (FINE // 2 - 0.5)
    ix = (coarse.ix[:, None, None] + offsets[None, None, :]).repeat(FINE, axis=1).ravel()
    iy = (coarse.iy[:, None, None] + offsets[None, :, None]).repeat(FINE, axis=2).ravel()
    lat, lon = grid.fine_centres(ix, iy)
    x, y = projection.to_xy(lat, lon)
    distance = fine_distances_m(segments, coarse, x, y)
    return bounded_entries(area_m, x, y, distance, grid.radius_m(lat, 1, stretch), stretch)


def fine_distances_m(segments: Segments, coarse: Centres, x: FloatArray, y: FloatArray) -> Any:
    """Exact distances of fine centres, from the few segments their coarse cell can reach."""
    cell, segment = segments.within(coarse.x, coarse.y, coarse.reach_m + 1.0)
    fx, fy = x.reshape(-1, FINE * FINE), y.reshape(-1, FINE * FINE)
    best = np.full(fx.shape, np.inf)
    for part in np.array_split(np.arange(len(cell)), 1 + len(cell) * fx.shape[1] // CHUNK):
        c = cell[part]
        if len(c) == 0:
            continue
        d = segments.distance_m(fx[c], fy[c], segment[part, None])
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # pairs come sorted by cell
        best[c[first]] = np.minimum(best[c[first]], np.minimum.reduceat(d, first, axis=0))
    return best.ravel()


def bounded_entries(
    area_m: Any,
    x: FloatArray,
    y: FloatArray,
    distance: FloatArray,
    radius: FloatArray,
    stretch: float,
) -> tuple[FloatArray, FloatArray, CodeArray]:
    """Bounds for every point of each cell from bounds at its centre (distance is 1-Lipschitz).

    lo is shrunk by the plane's stretch so a re-measurement on the ground cannot disagree.
    """
    inside = shapely.contains_xy(area_m, x, y)
    lo_cell = (distance - radius) / (1.0 + stretch) - MARGIN_M
    hi_cell = distance + radius + MARGIN_M
    return lo_cell, hi_cell, np.where(inside, INSIDE, OUTSIDE).astype(np.int8)


def far_m(grid: Grid, bounds: tuple[float, ...], stretch: float) -> float:
    """A lower bound of the distance from the fence's box to any point outside the grid.

    Across parallels: the meridian arc of the buffer. Across meridians: the distance from a
    point at the fence's most poleward latitude to a meridian the buffer away, on a sphere of
    the smallest curvature radius; 2% off for the ellipsoid and the plane.
    """
    west, south, east, north = bounds
    lat_gap = math.radians(min(south - grid.south, grid_top(grid) - north))
    lon_gap = math.radians(min(west - grid.west, grid_right(grid) - east))
    cos_pole = math.cos(math.radians(max(abs(south), abs(north))))
    across = math.asin(min(1.0, cos_pole * math.sin(lon_gap)))
    return MIN_RADIUS_M * min(lat_gap, across) * 0.98 / (1.0 + stretch) - MARGIN_M


def grid_top(grid: Grid) -> float:
    return grid.south + grid.ncy * FINE * grid.step_lat


def grid_right(grid: Grid) -> float:
    return grid.west + grid.ncx * FINE * grid.step_lon


def assemble(
    grid: Grid,
    coarse: tuple[FloatArray, FloatArray, CodeArray],
    fine: tuple[FloatArray, FloatArray, CodeArray],
    near: Int64Array,
    far: float,
) -> CellTable:
    """Entries: the coarse cells, then FINE² per near cell, then one for beyond the grid."""
    count = grid.ncx * grid.ncy
    inner = np.arange(count, dtype=np.int32)
    inner[near] = count + np.arange(len(near), dtype=np.int32) * FINE * FINE
    mask = np.zeros(count, dtype=np.int32)
    mask[near] = FINE * FINE - 1
    beyond = count + len(near) * FINE * FINE
    slot = np.pad(inner.reshape(grid.ncy, grid.ncx), 1, constant_values=beyond).ravel()
    sub_mask = np.pad(mask.reshape(grid.ncy, grid.ncx), 1).ravel()
    lo = np.concatenate([coarse[0], fine[0], [far]])
    hi = np.concatenate([coarse[1], fine[1], [np.inf]])
    codes = np.concatenate([coarse[2], fine[2], np.array([OUTSIDE], dtype=np.int8)])
    return CellTable(grid, slot, sub_mask, _rounded(lo, -np.inf), _rounded(hi, np.inf), codes)


def _rounded(values: FloatArray, towards: float) -> Float32Array:
    """float32, never on the wrong side of the float64 bound: lo may only shrink, hi only grow."""
    return np.nextafter(values.astype(np.float32), np.float32(towards))


def wkb_of(cells: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """H3 cells' hexagons as WKB (zones.py's cell map)."""
    return np.asarray(vector.cells_to_wkb_polygons(cells).to_pylist(), dtype=object)
