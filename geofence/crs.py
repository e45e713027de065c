"""WGS-84 ⇄ GCJ-02 ⇄ BD-09, vectorized; every function takes and returns (lat, lon)."""

from __future__ import annotations

from typing import Any

import numpy as np

from geofence.errors import UnknownCrsError
from geofence.models import Crs

Array = np.ndarray[Any, np.dtype[np.float64]]

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm uses it
A = 6378245.0
EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0


def out_of_china(lat: Array, lon: Array) -> Any:
    """GCJ-02 applies only inside this box; elsewhere it equals WGS-84."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _transform_lat(x: Array, y: Array) -> Array:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: Array, y: Array) -> Array:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: Array, lon: Array) -> tuple[Array, Array]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lat, lon)
    return np.where(outside, 0.0, dlat), np.where(outside, 0.0, dlon)


def wgs84_to_gcj02(lat: Array, lon: Array) -> tuple[Array, Array]:
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    dlat, dlon = _gcj_offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: Array, lon: Array, *, iterations: int = 6) -> tuple[Array, Array]:
    """Iterative inverse: converges to well under a centimetre in a few steps."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    wlat, wlon = lat.copy(), lon.copy()
    for _ in range(iterations):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        wlat, wlon = wlat - (glat - lat), wlon - (glon - lon)
    return wlat, wlon


def gcj02_to_bd09(lat: Array, lon: Array) -> tuple[Array, Array]:
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def bd09_to_gcj02(lat: Array, lon: Array) -> tuple[Array, Array]:
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.sin(theta), z * np.cos(theta)


def bd09_to_wgs84(lat: Array, lon: Array) -> tuple[Array, Array]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def wgs84_to_bd09(lat: Array, lon: Array) -> tuple[Array, Array]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def to_wgs84(lat: Array, lon: Array, crs: str) -> tuple[Array, Array]:
    match parse_crs(crs):
        case Crs.WGS84:
            return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        case Crs.GCJ02:
            return gcj02_to_wgs84(lat, lon)
        case Crs.BD09:
            return bd09_to_wgs84(lat, lon)


def parse_crs(crs: str) -> Crs:
    try:
        return Crs(crs)
    except ValueError:
        raise UnknownCrsError(f"crs: {crs!r} is not one of wgs84, gcj02, bd09") from None
