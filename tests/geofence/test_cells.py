"""The H3 table: answers only where the whole hexagon is clear of the boundary by the accuracy."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely
from h3ronpy import vector

from geofence import INSIDE, OUTSIDE, FenceIndex
from geofence.cells import MAX_CELLS, choose_resolution
from geofence.index import TABLE_MIN_POINTS
from tests.geofence.support import offset, reference_distance_m, square

LAT, LON = 22.54, 114.05


@pytest.fixture(scope="module")
def big_square() -> FenceIndex:
    return FenceIndex.from_geojson(square(LAT, LON, 5000.0))


def test_vectorized_cells_are_h3s_cells() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-80, 80, 2000), rng.uniform(-180, 180, 2000)
    for resolution in (5, 8, 10):
        fast = np.asarray(vector.coordinates_to_cells(lat, lon, resolution), dtype=np.uint64)
        slow = [
            h3.str_to_int(h3.latlng_to_cell(a, b, resolution))
            for a, b in zip(lat, lon, strict=True)
        ]
        assert fast.tolist() == slow


def test_table_answers_only_with_clearance_from_the_whole_hexagon(big_square: FenceIndex) -> None:
    table = big_square.table
    assert table is not None and len(table.cells) > 100
    assert set(np.unique(table.codes).tolist()) == {INSIDE, OUTSIDE}
    sample = slice(None, None, 37)
    rows = zip(table.cells[sample], table.codes[sample], table.clearance_m[sample], strict=True)
    for cell, code, clearance in rows:
        ring = np.array(h3.cell_to_boundary(h3.int_to_str(int(cell))))
        # every corner of the hexagon is at least the clearance from the boundary, on the ground
        corners = [reference_distance_m(big_square, float(a), float(b)) for a, b in ring]
        assert min(corners) >= clearance
        inside = big_square.area.contains(shapely.Point(ring[0][1], ring[0][0]))
        assert code == (INSIDE if inside else OUTSIDE)


def test_table_and_exact_path_agree_on_every_point(big_square: FenceIndex) -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    lat, lon = offset(LAT, LON, 0.0, 0.0)
    lats = rng.uniform(lat - 0.08, lat + 0.08, n)
    lons = rng.uniform(lon - 0.08, lon + 0.08, n)
    accuracy_m = rng.choice([0.0, 3.0, 10.0, 50.0, 200.0, 1000.0, 3000.0], n)
    codes = big_square.classify(lats, lons, accuracy_m)
    assert big_square.table is not None
    answered = big_square.table.lookup(lats, lons, accuracy_m) != 0
    assert 0.5 < answered.mean() < 1.0  # the table does most of the work, never all of it
    assert np.array_equal(codes, big_square.classify_exact(lats, lons, accuracy_m))


def test_small_batches_never_build_the_table() -> None:
    index = FenceIndex.from_geojson(square(LAT, LON, 500.0))
    index.classify(np.full(TABLE_MIN_POINTS - 1, LAT), np.full(TABLE_MIN_POINTS - 1, LON), 5.0)
    assert index._table_built is False
    index.classify(np.full(TABLE_MIN_POINTS, LAT), np.full(TABLE_MIN_POINTS, LON), 5.0)
    assert index._table_built is True


def test_resolution_keeps_the_table_bounded() -> None:
    assert choose_resolution((114.0, 22.5, 114.01, 22.51)) == 10  # a neighbourhood: finest
    city = choose_resolution((113.7, 22.35, 114.7, 22.9))
    assert city in (8, 9)
    area_m2 = 1.0 * 0.55 * 111_320.0**2 * np.cos(np.radians(22.6))
    assert area_m2 / h3.average_hexagon_area(city, "m^2") <= MAX_CELLS
    assert choose_resolution((70.0, 15.0, 90.0, 35.0)) == 5  # a subcontinent: coarsest


def test_no_table_for_a_fence_too_wide_to_be_worth_it() -> None:
    wide = {
        "type": "Polygon",
        "coordinates": [[[80.0, 20.0], [125.0, 20.0], [125.0, 45.0], [80.0, 45.0], [80.0, 20.0]]],
    }
    index = FenceIndex.from_geojson(wide)
    assert index.table is None
    codes = index.classify(np.full(3000, 30.0), np.full(3000, 100.0), 10.0)
    assert np.all(codes == INSIDE)
