"""H3 shortcut for classify: cells wholly inside or outside a fence, with their clearance.

A point whose cell is in the table and whose accuracy is below the cell's clearance is answered
at once; every other point goes to the exact geometry. The clearance is the distance from the
whole hexagon (not its centre) to the boundary, rounded down to a ladder of thresholds, shrunk by
the projection's stretch and by a margin for drawing H3's edges as straight lines, so a table
answer is always the one the exact path would give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h3
import h3.api.numpy_int as h3n
import numpy as np
import shapely
from h3ronpy import vector

from geofence.models import INSIDE, OUTSIDE, BoolArray, CodeArray, FloatArray
from geofence.projection import LocalProjection, stretch_bound

MAX_CELLS = 60_000  # build cost is linear in cells: ~0.5 s for a city at resolution 9
FINEST, COARSEST = 10, 5
BUFFER_DEG = 0.05  # cells beyond the fence's bounding box (~5 km) are answered exactly
MAX_SPAN_DEG = 20.0  # beyond this (or across ±180°) the table is not worth its memory
MARGIN_M = 1.0  # covers straight-drawn H3 edges and the exact path's on-boundary epsilon
LADDER_M = (0, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 5000)

UInt64Array = np.ndarray[Any, np.dtype[np.uint64]]


@dataclass(frozen=True)
class CellTable:
    resolution: int
    cells: UInt64Array  # sorted
    codes: CodeArray  # INSIDE or OUTSIDE for the whole hexagon
    clearance_m: FloatArray  # a point of the cell with accuracy below this is certain

    def lookup(self, lat: FloatArray, lon: FloatArray, accuracy_m: FloatArray) -> CodeArray:
        """INSIDE/OUTSIDE where the table answers, 0 where the exact path must decide."""
        wanted = np.asarray(vector.coordinates_to_cells(lat, lon, self.resolution), np.uint64)
        at = np.minimum(np.searchsorted(self.cells, wanted), len(self.cells) - 1)
        known = (self.cells[at] == wanted) & (accuracy_m < self.clearance_m[at])
        return np.where(known, self.codes[at], np.int8(0)).astype(np.int8)


def build_table(
    area_m: Any, boundary_m: Any, projection: LocalProjection, bounds: tuple[float, ...]
) -> CellTable | None:
    """The table for a prepared metric area and boundary; None when the fence is unsuitable."""
    west, south, east, north = bounds
    if east - west > MAX_SPAN_DEG or north - south > MAX_SPAN_DEG:
        return None
    box = (west - BUFFER_DEG, south - BUFFER_DEG, east + BUFFER_DEG, north + BUFFER_DEG)
    resolution = choose_resolution(box)
    cells = cells_in_box(box, resolution)
    if len(cells) == 0:
        return None
    hexes = shapely.transform(shapely.from_wkb(wkb_of(cells)), _projected(projection))
    floor_m = clearance_floor(boundary_m, hexes)
    keep = floor_m > 0
    cells, hexes, floor_m = cells[keep], hexes[keep], floor_m[keep]
    centres = shapely.centroid(hexes)
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    inside = shapely.contains_xy(area_m, x, y)
    reach = np.hypot(x, y) + floor_m + h3.average_hexagon_edge_length(resolution, "m")
    clearance = floor_m / (1.0 + stretch_bound(reach)) - MARGIN_M
    useful = clearance > 0
    return CellTable(
        resolution,
        cells[useful],
        np.where(inside[useful], INSIDE, OUTSIDE).astype(np.int8),
        clearance[useful],
    )


def choose_resolution(box: tuple[float, float, float, float]) -> int:
    west, south, east, north = box
    mid = math.radians((south + north) / 2)
    box_m2 = (east - west) * (north - south) * (111_320.0**2) * math.cos(mid)
    for resolution in range(FINEST, COARSEST - 1, -1):
        if box_m2 / h3.average_hexagon_area(resolution, "m^2") <= MAX_CELLS:
            return resolution
    return COARSEST


def cells_in_box(box: tuple[float, float, float, float], resolution: int) -> UInt64Array:
    west, south, east, north = box
    shell = [(south, west), (south, east), (north, east), (north, west)]
    cells = np.asarray(h3n.polygon_to_cells(h3.LatLngPoly(shell), resolution), dtype=np.uint64)
    cells = cells[[not h3n.is_pentagon(c) for c in cells]] if len(cells) else cells
    return np.sort(cells)


def wkb_of(cells: UInt64Array) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.asarray(vector.cells_to_wkb_polygons(cells).to_pylist(), dtype=object)


def _projected(projection: LocalProjection) -> Any:
    def lonlat_rows_to_xy(rows: FloatArray) -> FloatArray:
        x, y = projection.to_xy(rows[:, 1], rows[:, 0])
        return np.column_stack([x, y])

    return lonlat_rows_to_xy


def clearance_floor(boundary_m: Any, hexes: Any) -> FloatArray:
    """For each hexagon, the largest ladder step its distance to the boundary exceeds (or 0)."""
    floor_m = np.zeros(len(hexes))
    alive = np.arange(len(hexes))
    for step in LADDER_M:
        clear: BoolArray = ~shapely.dwithin(boundary_m, hexes[alive], step)
        alive = alive[clear]
        floor_m[alive] = step
    return floor_m
