"""A metric plane centred on one fence, where every ping's distance to the boundary is measured.

Azimuthal equidistant on the WGS-84 ellipsoid (PROJ): distances from the centre are exact
geodesics, and a short distance measured at ground range ρ from the centre is stretched by at
most c/sin(c) − 1 ≈ c²/6 with c = ρ / R. That stays under 0.1% within 500 km of the centre and
under 0.5% within about 1100 km; `stretch_bound` says how much, so callers can re-check the few
points where it could matter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from geofence.models import FloatArray

MIN_RADIUS_M = 6_335_439.0  # the smallest radius of curvature of the WGS-84 ellipsoid (meridian)


class LocalProjection:
    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self._forward = Transformer.from_pipeline(aeqd_pipeline(lat0, lon0))

    def to_xy(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) degrees → (x east, y north) metres; PROJ wants (lon, lat), said here once."""
        x, y = self._forward.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def aeqd_pipeline(lat0: float, lon0: float) -> str:
    """PROJ pipeline from (lon, lat) degrees; 100x cheaper to build than a CRS-to-CRS pair."""
    return (
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={float(lat0)!r} +lon_0={float(lon0)!r} +ellps=WGS84"
    )


def stretch_bound(range_m: npt.ArrayLike) -> FloatArray:
    """Upper bound of (projected − true) / true for short distances at this range from the centre.

    c/sin(c) − 1 on a sphere of the ellipsoid's smallest radius, doubled as a margin for the
    ellipsoid's anisotropy (its azimuthal scale departs from the sphere's by O(f·c²)).
    """
    c = np.minimum(np.asarray(range_m, dtype=np.float64) / MIN_RADIUS_M, 3.0)
    return np.asarray(2.0 * (c / np.maximum(np.sin(c), 1e-12) - 1.0), dtype=np.float64)
