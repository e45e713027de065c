"""WGS-84 ⇄ GCJ-02 ⇄ BD-09, vectorized: fences and pings enter the index through `to_wgs84`.

Every function takes and returns (lat, lon) in degrees. The forward GCJ-02 offset is the published
algorithm; the inverses are fixed-point iterations on it, accurate to far below a centimetre.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geofence.errors import UnknownCrsError
from geofence.models import BoolArray, Crs, FloatArray

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm uses it
A = 6378245.0
EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0
INVERSE_STEPS = 8  # each step gains ~5 orders of magnitude; 3 already reach 1e-9 degrees


def out_of_china(lat: FloatArray, lon: FloatArray) -> BoolArray:
    """GCJ-02 shifts only inside this box; elsewhere it equals WGS-84."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _transform_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lat, lon)
    return np.where(outside, 0.0, dlat), np.where(outside, 0.0, dlon)


def _floats(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def wgs84_to_gcj02(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    wlat, wlon = _floats(lat, lon)
    dlat, dlon = _gcj_offset(wlat, wlon)
    return wlat + dlat, wlon + dlon


def gcj02_to_wgs84(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Solve wgs84_to_gcj02(w) = g for w; the offset varies slowly, so w -= f(w) - g converges."""
    glat, glon = _floats(lat, lon)
    wlat, wlon = glat.copy(), glon.copy()
    for _ in range(INVERSE_STEPS):
        flat, flon = wgs84_to_gcj02(wlat, wlon)
        wlat, wlon = wlat - (flat - glat), wlon - (flon - glon)
    return wlat, wlon


def gcj02_to_bd09(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    glat, glon = _floats(lat, lon)
    z = np.sqrt(glon * glon + glat * glat) + 0.00002 * np.sin(glat * X_PI)
    theta = np.arctan2(glat, glon) + 0.000003 * np.cos(glon * X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(blat: FloatArray, blon: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.sin(theta), z * np.cos(theta)


def bd09_to_gcj02(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The published closed-form inverse is off by up to a metre; refine it like GCJ-02."""
    blat, blon = _floats(lat, lon)
    glat, glon = _bd09_to_gcj02_approx(blat, blon)
    for _ in range(INVERSE_STEPS):
        flat, flon = gcj02_to_bd09(glat, glon)
        glat, glon = glat - (flat - blat), glon - (flon - blon)
    return glat, glon


def bd09_to_wgs84(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def wgs84_to_bd09(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def to_wgs84(lat: npt.ArrayLike, lon: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    match parse_crs(crs):
        case Crs.WGS84:
            return _floats(lat, lon)
        case Crs.GCJ02:
            return gcj02_to_wgs84(lat, lon)
        case Crs.BD09:
            return bd09_to_wgs84(lat, lon)


def parse_crs(crs: str, *, argument: str = "crs") -> Crs:
    try:
        return Crs(str(crs).lower())
    except ValueError:
        raise UnknownCrsError(f"{argument}: {crs!r} is not one of wgs84, gcj02, bd09") from None
