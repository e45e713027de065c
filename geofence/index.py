"""FenceIndex: is the accuracy disc around each ping wholly inside, wholly outside, or across?

Exact path: project into an azimuthal-equidistant plane centred on the fence, test the point
against the prepared area and its accuracy against the distance to the prepared boundary. Points
far from the centre, where the plane stretches distances, are re-measured near the threshold in
a plane centred on the point itself. Once built (by a large batch, or by the index's owner
when `wants_table()`), the cell table (cells.py) answers most pings first, with two
multiplications and a few array look-ups.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geofence.cells import UNKNOWN, CellTable, build_table
from geofence.crs import parse_crs, to_wgs84
from geofence.errors import InvalidInputError
from geofence.geometry import Area, area_from_geojson
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, CodeArray, Crs, FloatArray
from geofence.projection import LocalProjection, stretch_bound

ON_BOUNDARY_M = 0.005  # a point this close to the boundary counts as on it (float noise)
RESTRETCH_ABOVE = 0.001  # re-measure near-threshold points whose plane stretches more than this
# A batch this large builds the cell table at once; smaller ones use it once it is built. An
# index asked about this many points in all `wants_table()`: its owner builds it off the hot
# path (a city's table takes seconds), after which even a lone ping is cheaper through it.
TABLE_MIN_POINTS = 2048


class FenceIndex:
    def __init__(self, area: Area, warnings: tuple[str, ...] = ()) -> None:
        self.area = area  # WGS-84, shapely x=lon, y=lat
        self.warnings = warnings
        centre = area.envelope.centroid
        self.projection = LocalProjection(lat0=centre.y, lon0=centre.x)
        self.area_m = shapely.transform(area, self._lonlat_rows_to_xy)
        self.boundary_m = self.area_m.boundary
        shapely.prepare(self.area_m)
        shapely.prepare(self.boundary_m)
        self._table: CellTable | None = None
        self._table_built = False
        self._table_lock = threading.Lock()
        self.asked = 0  # points classified so far

    @classmethod
    def from_geojson(cls, obj: dict[str, Any], crs: str = "wgs84") -> FenceIndex:
        area, warnings = area_from_geojson(obj, parse_crs(crs))
        return cls(area, warnings)

    def classify(
        self,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        accuracy_m: npt.ArrayLike,
        *,
        crs: str = "wgs84",
    ) -> CodeArray:
        """INSIDE, OUTSIDE or UNCERTAIN per point: see ARCHITECTURE.md §5 and §7."""
        lat_, lon_, acc = wgs84_inputs(lat, lon, accuracy_m, crs)
        self.asked += len(lat_)
        table = self.table if self._table_built or len(lat_) >= TABLE_MIN_POINTS else None
        if table is None:
            return self.classify_exact(lat_, lon_, acc)
        codes = table.lookup(lat_, lon_, acc)
        rest = np.flatnonzero(codes == UNKNOWN)
        if len(rest):
            codes[rest] = self.classify_exact(lat_[rest], lon_[rest], acc[rest])
        return codes

    @property
    def table(self) -> CellTable | None:
        """The cell table (None where a fence is too wide for one), built on first use; safe
        to build from another thread while this one classifies by the exact path."""
        if not self._table_built:
            with self._table_lock:
                if not self._table_built:
                    self._table = build_table(
                        self.area_m, self.boundary_m, self.projection, tuple(self.area.bounds)
                    )
                    self._table_built = True
        return self._table

    def wants_table(self) -> bool:
        """Asked about enough points that building the table pays, and not built yet."""
        return not self._table_built and self.asked >= TABLE_MIN_POINTS

    def classify_exact(self, lat: FloatArray, lon: FloatArray, accuracy_m: FloatArray) -> CodeArray:
        x, y = self.projection.to_xy(lat, lon)
        points = shapely.points(x, y)
        near = shapely.dwithin(self.boundary_m, points, accuracy_m + ON_BOUNDARY_M)
        inside = shapely.contains_xy(self.area_m, x, y)
        codes = np.where(near, UNCERTAIN, np.where(inside, INSIDE, OUTSIDE)).astype(np.int8)
        stretch = stretch_bound(np.hypot(x, y) + 2 * accuracy_m)
        suspect = np.flatnonzero(~near & (stretch > RESTRETCH_ABOVE))
        if len(suspect):
            reach = accuracy_m[suspect] * (1 + stretch[suspect]) + ON_BOUNDARY_M
            suspect = suspect[shapely.dwithin(self.boundary_m, points[suspect], reach)]
        for i in suspect:
            if (
                self.ground_distance_m(float(lat[i]), float(lon[i]))
                <= accuracy_m[i] + ON_BOUNDARY_M
            ):
                codes[i] = UNCERTAIN
        return codes

    def ground_distance_m(self, lat: float, lon: float) -> float:
        """Distance to the boundary in a plane centred on the point: exact ranges, no stretch."""
        local = LocalProjection(lat0=lat, lon0=lon)

        def to_local(rows: FloatArray) -> FloatArray:
            x, y = local.to_xy(rows[:, 1], rows[:, 0])
            return np.column_stack([x, y])

        boundary = shapely.transform(self.area.boundary, to_local)
        return float(shapely.distance(boundary, shapely.Point(0.0, 0.0)))

    def _lonlat_rows_to_xy(self, rows: FloatArray) -> FloatArray:
        x, y = self.projection.to_xy(rows[:, 1], rows[:, 0])
        return np.column_stack([x, y])


def wgs84_inputs(
    lat: npt.ArrayLike, lon: npt.ArrayLike, accuracy_m: npt.ArrayLike, crs: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked float arrays, the points converted to WGS-84 from the caller's `crs`."""
    lat_, lon_, acc = checked_inputs(lat, lon, accuracy_m)
    if parse_crs(crs, argument="crs") is not Crs.WGS84:
        lat_, lon_ = to_wgs84(lat_, lon_, crs)
    return lat_, lon_, acc


def checked_inputs(
    lat: npt.ArrayLike, lon: npt.ArrayLike, accuracy_m: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    names = ("lat", "lon", "accuracy_m")
    arrays = [
        _floats(name, value) for name, value in zip(names, (lat, lon, accuracy_m), strict=True)
    ]
    lengths = {len(a) for a in arrays if a.ndim == 1}
    if len(lengths) > 1:  # only a scalar may stand for a whole batch, never a short array
        shapes = ", ".join(f"{name} {a.shape}" for name, a in zip(names, arrays, strict=True))
        raise InvalidInputError(f"lat, lon, accuracy_m: lengths differ ({shapes})")
    size = lengths.pop() if lengths else 1
    floats = {n: np.broadcast_to(a, (size,)) for n, a in zip(names, arrays, strict=True)}
    if np.any(floats["accuracy_m"] < 0):
        raise InvalidInputError("accuracy_m: must not be negative")
    if np.any(np.abs(floats["lat"]) > 90):
        raise InvalidInputError("lat: must be within ±90 degrees")
    if np.any(np.abs(floats["lon"]) > 180):
        raise InvalidInputError("lon: must be within ±180 degrees")
    return floats["lat"], floats["lon"], floats["accuracy_m"]


def _floats(name: str, value: npt.ArrayLike) -> FloatArray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: must be an array of numbers") from None
    if array.ndim > 1:
        raise InvalidInputError(f"{name}: must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name}: must be finite numbers (found NaN or infinity)")
    return array
