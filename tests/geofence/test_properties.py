"""classify against a slow exact reference, at random points near real boundaries.

The reference measures each point's geodesic distance to the boundary in a plane centred on the
point itself (exact ranges) and tests containment in lon/lat. Inside the tolerance band, where
|distance − accuracy| < 0.5% of accuracy + 0.5 m, either answer is allowed; elsewhere they agree.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import assume, given
from hypothesis import strategies as st

from geofence import FenceIndex
from geofence.cells import UNKNOWN
from tests.geofence.support import (
    GEOD,
    PROPERTY,
    boundary_file,
    reference_code,
    reference_distance_m,
)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def virginia_counties_with_holes() -> dict[str, Any]:
    data = boundary_file("usa/usatlas_virginia_counties_with_holes.geojson")
    holed = [f for f in data["features"] if len(f["geometry"]["coordinates"]) > 1]
    return {"type": "FeatureCollection", "features": holed}


FENCES = {  # name → (GeoJSON path or builder, CRS of the file)
    "shenzhen-wgs84": ("shenzhen/transbigdata_sz_districts_wgs84.geojson", "wgs84"),
    "nanshan-gcj02-islands": ("shenzhen/districts/datav_440305_nanshan.geojson", "gcj02"),
    "virginia-holes": ("", "wgs84"),
}


@cache
def fence(name: str) -> tuple[FenceIndex, FloatArray]:
    path, crs = FENCES[name]
    obj = boundary_file(path) if path else virginia_counties_with_holes()
    index = FenceIndex.from_geojson(obj, crs=crs)
    return index, shapely.get_coordinates(index.area.boundary)


def near_boundary(
    vertices: FloatArray, pick: int, bearing: float, distance_m: float
) -> tuple[float, float]:
    lon, lat = vertices[pick % len(vertices)]
    lon2, lat2, _ = GEOD.fwd(lon, lat, bearing, distance_m)
    return float(lat2), float(lon2)


@pytest.mark.parametrize("name", sorted(FENCES))
@PROPERTY
@given(
    pick=st.integers(0, 10**9),
    bearing=st.floats(0.0, 360.0),
    distance_m=st.floats(0.0, 3000.0) | st.floats(0.0, 30.0),
    accuracy_m=st.floats(0.0, 500.0) | st.sampled_from([0.0, 5.0, 20.0]),
)
def test_agrees_with_the_reference(
    name: str, pick: int, bearing: float, distance_m: float, accuracy_m: float
) -> None:
    index, vertices = fence(name)
    lat, lon = near_boundary(vertices, pick, bearing, distance_m)
    expected = reference_code(index, lat, lon, accuracy_m)
    got = int(index.classify([lat], [lon], [accuracy_m])[0])
    assert expected is None or got == expected, (lat, lon, accuracy_m)


@pytest.mark.parametrize("name", sorted(FENCES))
@PROPERTY
@given(
    pick=st.integers(0, 10**9),
    bearing=st.floats(0.0, 360.0),
    distance_m=st.floats(0.0, 3000.0),
    ratio=st.floats(0.95, 0.994) | st.floats(1.006, 1.05),
)
def test_threshold_is_sharp_to_half_a_per_cent(
    name: str, pick: int, bearing: float, distance_m: float, ratio: float
) -> None:
    """Accuracy just below or above the true distance: certain, then uncertain."""
    index, vertices = fence(name)
    lat, lon = near_boundary(vertices, pick, bearing, distance_m)
    distance = reference_distance_m(index, lat, lon)
    accuracy_m = distance * ratio
    expected = reference_code(index, lat, lon, accuracy_m, distance)
    assume(expected is not None)
    assert int(index.classify([lat], [lon], [accuracy_m])[0]) == expected, (lat, lon, accuracy_m)


@pytest.mark.parametrize("name", sorted(FENCES))
def test_large_batches_agree_with_the_exact_path_and_the_reference(name: str) -> None:
    """A batch big enough for the cell table: the table must never change an answer."""
    index, vertices = fence(name)
    rng = np.random.default_rng(7)
    n = 20_000
    picks = rng.integers(0, len(vertices), n)
    lon, lat, _ = GEOD.fwd(
        vertices[picks, 0], vertices[picks, 1], rng.uniform(0, 360, n), rng.uniform(0, 4000, n)
    )
    accuracy_m = rng.choice([0.0, 5.0, 30.0, 100.0, 400.0], n)
    codes = index.classify(lat, lon, accuracy_m)
    assert index.table is not None
    answered = index.table.lookup(lat, lon, accuracy_m) != UNKNOWN
    assert 0.2 < answered.mean() < 1.0, "the table must answer some, and leave some to exact"
    assert np.array_equal(codes, index.classify_exact(lat, lon, accuracy_m))
    for i in rng.choice(n, 150, replace=False):
        expected = reference_code(index, lat[i], lon[i], accuracy_m[i])
        assert expected is None or codes[i] == expected, (lat[i], lon[i], accuracy_m[i])
