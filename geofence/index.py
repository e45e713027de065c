"""FenceIndex: is the accuracy disc around each point wholly inside, wholly outside, or across?

Exact geometry in an azimuthal-equidistant projection centred on the fence (ellipsoidal, via
PROJ): distances in metres with scale error far below 0.5% over any city or province.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon

from geofence.crs import parse_crs, to_wgs84
from geofence.errors import InvalidInputError
from geofence.geometry import Hygiene, lonlat_points, to_area
from geofence.models import INSIDE, OUTSIDE, UNCERTAIN

Codes = np.ndarray[Any, np.dtype[np.int8]]


class FenceIndex:
    def __init__(self, area: Polygon | MultiPolygon, warnings: tuple[str, ...] = ()) -> None:
        self.area = area  # WGS-84, x=lon, y=lat
        self.warnings = warnings
        centre = area.centroid
        self._to_metres = Transformer.from_crs(
            "EPSG:4326",
            f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m",
            always_xy=True,
        )
        self.area_m = shapely.transform(area, self._project_xy)
        self.boundary_m = self.area_m.boundary
        shapely.prepare(self.area_m)
        shapely.prepare(self.boundary_m)

    @classmethod
    def from_geojson(cls, obj: Any, crs: str = "wgs84") -> FenceIndex:
        hygiene = Hygiene()
        area = to_area(obj, parse_crs(crs).value, hygiene)
        return cls(area, tuple(hygiene.warnings))

    def _project_xy(self, xy: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        x, y = self._to_metres.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def classify(self, lat: Any, lon: Any, accuracy_m: Any, *, crs: str = "wgs84") -> Codes:
        lat, lon, acc = checked_inputs(lat, lon, accuracy_m)
        if crs != "wgs84":
            lat, lon = to_wgs84(lat, lon, crs)
        x, y = self._to_metres.transform(lon, lat)
        inside = shapely.contains_xy(self.area_m, x, y)
        clearance = shapely.distance(self.boundary_m, shapely.points(x, y))
        certain = clearance > acc
        codes = np.full(len(lat), UNCERTAIN, dtype=np.int8)
        codes[certain & inside] = INSIDE
        codes[certain & ~inside] = OUTSIDE
        return codes

    def distance_to_boundary_m(self, lat: Any, lon: Any) -> np.ndarray[Any, Any]:
        x, y = self._to_metres.transform(np.asarray(lon, float), np.asarray(lat, float))
        result: np.ndarray[Any, Any] = shapely.distance(self.boundary_m, shapely.points(x, y))
        return result

    def contains(self, lat: Any, lon: Any) -> np.ndarray[Any, Any]:
        result: np.ndarray[Any, Any] = shapely.contains(self.area, lonlat_points(lat, lon))
        return result


def checked_inputs(lat: Any, lon: Any, accuracy_m: Any) -> tuple[Any, Any, Any]:
    arrays = [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (lat, lon, accuracy_m)]
    lat, lon, acc = np.broadcast_arrays(*arrays)
    for name, values in (("lat", lat), ("lon", lon), ("accuracy_m", acc)):
        if not np.all(np.isfinite(values)):
            raise InvalidInputError(f"{name}: must be finite numbers")
    if np.any(acc < 0):
        raise InvalidInputError("accuracy_m: must not be negative")
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        raise InvalidInputError("lat/lon: out of range")
    return lat, lon, acc
