"""FenceIndex.classify on hand-made fences: squares, holes, islands, bad input, CRS of points."""

from __future__ import annotations

import numpy as np
import pytest

from geofence import (
    INSIDE,
    OUTSIDE,
    UNCERTAIN,
    FenceIndex,
    InvalidInputError,
    UnknownCrsError,
)
from geofence.crs import wgs84_to_bd09, wgs84_to_gcj02
from geofence.projection import LocalProjection
from tests.geofence.support import offset, reference_distance_m, ring_around, square

LAT, LON = 22.54, 114.05  # Futian, Shenzhen


def classify_one(index: FenceIndex, lat: float, lon: float, accuracy_m: float) -> int:
    return int(index.classify(np.array([lat]), np.array([lon]), np.array([accuracy_m]))[0])


@pytest.fixture(scope="module")
def km_square() -> FenceIndex:
    return FenceIndex.from_geojson(square(LAT, LON, 500.0))


@pytest.mark.parametrize(
    ("east_m", "accuracy_m", "expected"),
    [
        (400.0, 50.0, INSIDE),  # 100 m inside
        (400.0, 150.0, UNCERTAIN),
        (600.0, 50.0, OUTSIDE),  # 100 m outside
        (600.0, 150.0, UNCERTAIN),
        (0.0, 499.0, INSIDE),  # the centre: 500 m from every edge
        (0.0, 501.0, UNCERTAIN),
        (5000.0, 1000.0, OUTSIDE),
    ],
)
def test_square(km_square: FenceIndex, east_m: float, accuracy_m: float, expected: int) -> None:
    lat, lon = offset(LAT, LON, east_m, 0.0)
    assert classify_one(km_square, lat, lon, accuracy_m) == expected


def test_codes_are_int8_and_the_documented_values() -> None:
    assert [int(c) for c in (INSIDE, OUTSIDE, UNCERTAIN)] == [1, -1, 0]
    assert all(isinstance(c, np.int8) for c in (INSIDE, OUTSIDE, UNCERTAIN))
    index = FenceIndex.from_geojson(square(LAT, LON, 500.0))
    codes = index.classify(np.array([LAT]), np.array([LON]), np.array([10.0]))
    assert codes.dtype == np.int8 and codes.shape == (1,)


def test_on_the_boundary_is_uncertain_even_with_zero_accuracy(km_square: FenceIndex) -> None:
    ring = np.array(km_square.area.exterior.coords)
    corner_lon, corner_lat = ring[0]
    mid_lon, mid_lat = (ring[0] + ring[1]) / 2  # midway along an edge, in lon/lat
    for lat, lon in ((corner_lat, corner_lon), (mid_lat, mid_lon)):
        assert classify_one(km_square, lat, lon, 0.0) == UNCERTAIN


def test_zero_accuracy_is_certain_a_metre_from_the_boundary(km_square: FenceIndex) -> None:
    inside = offset(LAT, LON, 499.0, 0.0)
    outside = offset(LAT, LON, 501.0, 0.0)
    assert classify_one(km_square, *inside, 0.0) == INSIDE
    assert classify_one(km_square, *outside, 0.0) == OUTSIDE


def test_hole_is_outside_and_its_edge_uncertain() -> None:
    hole = ring_around(LAT, LON, 200.0)[::-1]
    index = FenceIndex.from_geojson(square(LAT, LON, 1000.0, holes=[hole]))
    assert classify_one(index, LAT, LON, 150.0) == OUTSIDE  # centre of the hole, 200 m from it
    assert classify_one(index, LAT, LON, 250.0) == UNCERTAIN
    assert classify_one(index, *offset(LAT, LON, 600.0, 0.0), 350.0) == INSIDE
    assert classify_one(index, *offset(LAT, LON, 600.0, 0.0), 450.0) == UNCERTAIN


def test_island_inside_a_hole_counts_as_area() -> None:
    hole = ring_around(LAT, LON, 600.0)[::-1]
    island = square(LAT, LON, 200.0)["coordinates"]
    lake = square(LAT, LON, 1500.0, holes=[hole])["coordinates"]
    index = FenceIndex.from_geojson({"type": "MultiPolygon", "coordinates": [lake, island]})
    assert classify_one(index, LAT, LON, 100.0) == INSIDE  # the island
    assert classify_one(index, *offset(LAT, LON, 400.0, 0.0), 150.0) == OUTSIDE  # the water
    assert classify_one(index, *offset(LAT, LON, 1000.0, 0.0), 350.0) == INSIDE  # the shore


def test_union_of_features_in_a_collection() -> None:
    west = square(LAT, LON, 500.0)
    east = square(*offset(LAT, LON, 1000.0, 0.0), 500.0)  # shares the edge at +500 m
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in (west, east)],
    }
    index = FenceIndex.from_geojson(collection)
    seam = offset(LAT, LON, 500.0, 0.0)
    assert classify_one(index, *seam, 100.0) == INSIDE  # no boundary left along the seam


def test_distances_are_ground_distances_at_high_latitude() -> None:
    """At 60° N a degree of longitude is half a degree of latitude: planar degrees would fail."""
    index = FenceIndex.from_geojson(square(60.0, 25.0, 500.0))
    lat, lon = offset(60.0, 25.0, 0.0, 400.0)
    assert classify_one(index, lat, lon, 95.0) == INSIDE
    assert classify_one(index, lat, lon, 105.0) == UNCERTAIN
    lat, lon = offset(60.0, 25.0, 400.0, 0.0)
    assert classify_one(index, lat, lon, 95.0) == INSIDE
    assert classify_one(index, lat, lon, 105.0) == UNCERTAIN


def test_a_continent_sized_fence_is_remeasured_far_from_its_centre() -> None:
    """1400 km from the centre the plane stretches distances by ~1%: near-threshold points are
    re-measured in a plane centred on the point, so answers stay within 0.5% of the truth."""
    big = {
        "type": "Polygon",
        "coordinates": [[[80.0, 20.0], [125.0, 20.0], [125.0, 45.0], [80.0, 45.0], [80.0, 20.0]]],
    }
    index = FenceIndex.from_geojson(big)
    lat, lon = 21.0, 124.99
    truth = reference_distance_m(index, lat, lon)
    codes = index.classify([lat, lat], [lon, lon], [truth * 0.995, truth * 1.005])
    assert codes.tolist() == [INSIDE, UNCERTAIN]


def test_points_in_another_crs() -> None:
    index = FenceIndex.from_geojson(square(LAT, LON, 500.0))
    lat, lon = offset(LAT, LON, 400.0, 0.0)
    glat, glon = wgs84_to_gcj02(lat, lon)
    blat, blon = wgs84_to_bd09(lat, lon)
    assert classify_one(index, float(glat), float(glon), 50.0) == OUTSIDE  # taken as WGS-84
    assert index.classify([glat], [glon], [50.0], crs="gcj02").tolist() == [INSIDE]
    assert index.classify([blat], [blon], [50.0], crs="bd09").tolist() == [INSIDE]


def test_empty_batch_and_plain_lists(km_square: FenceIndex) -> None:
    assert km_square.classify(np.array([]), np.array([]), np.array([])).shape == (0,)
    assert km_square.classify([LAT], [LON], [10.0]).tolist() == [INSIDE]
    assert km_square.classify([LAT, LAT], [LON, LON], 10.0).tolist() == [INSIDE, INSIDE]


@pytest.mark.parametrize(
    ("lat", "lon", "accuracy_m", "named"),
    [
        ([np.nan], [LON], [1.0], "lat"),
        ([LAT], [np.nan], [1.0], "lon"),
        ([LAT], [LON], [np.nan], "accuracy_m"),
        ([LAT], [LON], [np.inf], "accuracy_m"),
        ([LAT], [LON], [-1.0], "accuracy_m"),
        ([91.0], [LON], [1.0], "lat"),
        ([LAT], [181.0], [1.0], "lon"),
        ([LAT], [LON], ["x"], "accuracy_m"),
        ([LAT, LAT], [LON], [1.0, 1.0], "lat, lon, accuracy_m"),
        ([[LAT]], [[LON]], [[1.0]], "lat"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(
    km_square: FenceIndex, lat: object, lon: object, accuracy_m: object, named: str
) -> None:
    with pytest.raises(InvalidInputError, match=rf"^{named}:") as caught:
        km_square.classify(lat, lon, accuracy_m)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)


def test_unknown_crs_is_refused(km_square: FenceIndex) -> None:
    with pytest.raises(UnknownCrsError, match="crs: 'osgb36'"):
        km_square.classify([LAT], [LON], [1.0], crs="osgb36")
    with pytest.raises(UnknownCrsError):
        FenceIndex.from_geojson(square(LAT, LON, 500.0), crs="epsg:3857")


@pytest.mark.parametrize("lon", [179.9992, -179.9982, 179.9])
def test_a_fence_beside_the_antimeridian_gets_the_exact_answers(lon: float) -> None:
    """Pings just across ±180° are metres away, whatever their longitude's sign says."""
    index = FenceIndex.from_geojson(square(10.0, lon - 0.003 if lon > 0 else lon + 0.003, 200.0))
    rng = np.random.default_rng(3)
    lat = 10.0 + rng.uniform(-0.01, 0.01, 20_000)
    lons = (lon + rng.uniform(-0.01, 0.01, 20_000) + 180.0) % 360.0 - 180.0
    accuracy = rng.uniform(0.0, 300.0, 20_000)
    assert np.array_equal(
        index.classify(lat, lons, accuracy), index.classify_exact(lat, lons, accuracy)
    )


def test_a_projection_centred_on_numpy_floats_is_the_same_plane() -> None:
    x, y = LocalProjection(np.float64(22.6), np.float64(114.0)).to_xy(22.6, 114.0)
    assert abs(float(x)) < 1e-6 and abs(float(y)) < 1e-6
