"""The cell table: it answers only where every point of the cell is sure of the same answer."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex
from geofence.cells import (
    FINE,
    MAX_COARSE_CELLS,
    UNKNOWN,
    CellTable,
    choose_grid,
    grid_right,
    grid_top,
)
from geofence.index import TABLE_MIN_POINTS
from tests.geofence.support import (
    GEOD,
    PROPERTY,
    boundary_file,
    offset,
    reference_distance_m,
    square,
)

LAT, LON = 22.54, 114.05
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@pytest.fixture(scope="module")
def big_square() -> FenceIndex:
    return FenceIndex.from_geojson(square(LAT, LON, 5000.0))


@cache
def fence(name: str) -> tuple[FenceIndex, CellTable]:
    """Real boundaries: Shenzhen's districts (coast, islands) and a square at 60° N."""
    if name == "shenzhen":
        obj = boundary_file("shenzhen/transbigdata_sz_districts_wgs84.geojson")
    else:
        obj = square(60.0, 25.0, 3000.0)
    index = FenceIndex.from_geojson(obj)
    assert index.table is not None
    return index, index.table


def planar_distance_m(index: FenceIndex, lat: FloatArray, lon: FloatArray) -> FloatArray:
    x, y = index.projection.to_xy(lat, lon)
    return np.asarray(shapely.distance(index.boundary_m, shapely.points(x, y)), dtype=np.float64)


@pytest.mark.parametrize("name", ["shenzhen", "square-60N"])
def test_entries_bound_the_distance_of_points_anywhere_in_their_cell(name: str) -> None:
    """lo ≤ distance ≤ hi and the cell's side, for random points (cell corners included)."""
    index, table = fence(name)
    g, rng = table.grid, np.random.default_rng(11)
    n = 4000
    fx = rng.uniform(0, g.ncx * FINE, n)
    fy = rng.uniform(0, g.ncy * FINE, n)
    fx[: n // 4], fy[: n // 4] = np.floor(fx[: n // 4]), np.floor(fy[: n // 4])  # corners
    lat, lon = g.south + fy * g.step_lat, g.west + fx * g.step_lon
    entry = table.entries(lat, lon)
    distance = planar_distance_m(index, lat, lon)
    assert np.all(table.lo_m[entry] <= distance) and np.all(distance <= table.hi_m[entry])
    sure = table.lo_m[entry] > 0
    x, y = index.projection.to_xy(lat[sure], lon[sure])
    inside = shapely.contains_xy(index.area_m, x, y)
    assert np.array_equal(table.codes[entry[sure]], np.where(inside, INSIDE, OUTSIDE))


def test_fine_cells_are_about_twenty_five_metres_near_the_boundary() -> None:
    index, table = fence("shenzhen")
    vertices = shapely.get_coordinates(index.area.boundary)[::50]
    entry = table.entries(vertices[:, 1], vertices[:, 0])
    width = table.hi_m[entry] - table.lo_m[entry]
    assert np.all(width < 45.0)  # two fine-cell radii (~19 m each) and margins


@pytest.mark.parametrize("name", ["shenzhen", "square-60N"])
@PROPERTY
@given(
    pick=st.integers(0, 10**9),
    bearing=st.floats(0.0, 360.0),
    distance_m=st.floats(0.0, 600.0) | st.floats(0.0, 8000.0),
    ratio=st.floats(0.0, 2.0) | st.floats(0.9, 1.1),
)
def test_table_never_changes_an_answer(
    name: str, pick: int, bearing: float, distance_m: float, ratio: float
) -> None:
    """Near the boundary, with accuracy around the true distance: the table is right or silent."""
    index, table = fence(name)
    vertices = shapely.get_coordinates(index.area.boundary)
    lon0, lat0 = vertices[pick % len(vertices)]
    lon1, lat1, _ = GEOD.fwd(lon0, lat0, bearing, distance_m)
    lat, lon = np.array([lat1]), np.array([lon1])
    accuracy_m = planar_distance_m(index, lat, lon) * ratio
    answer = table.lookup(lat, lon, accuracy_m)
    assert answer[0] == UNKNOWN or answer[0] == index.classify_exact(lat, lon, accuracy_m)[0]


@pytest.mark.parametrize("name", ["shenzhen", "square-60N"])
@PROPERTY
@given(
    side=st.integers(0, 3),
    along=st.floats(-0.5, 1.5),
    beyond_deg=st.floats(0.0, 0.02) | st.just(0.0),
    ratio=st.floats(0.5, 1.0),
)
def test_beyond_the_grid_is_outside_only_below_the_buffer(
    name: str, side: int, along: float, beyond_deg: float, ratio: float
) -> None:
    """The box test: past the grid's edge, accuracy below far_m is OUTSIDE, as exact says."""
    index, table = fence(name)
    g = table.grid
    top, right, far_m = grid_top(g), grid_right(g), float(table.lo_m[-1])
    lat_at = g.south + along * (top - g.south)
    lon_at = g.west + along * (right - g.west)
    lat, lon = [
        (g.south - beyond_deg, lon_at),
        (top + beyond_deg, lon_at),
        (lat_at, g.west - beyond_deg),
        (lat_at, right + beyond_deg),
    ][side]
    lat, lon = float(np.clip(lat, -89.0, 89.0)), float(np.clip(lon, -180.0, 180.0))
    accuracy_m = np.array([far_m * ratio])
    answer = table.lookup(np.array([lat]), np.array([lon]), accuracy_m)
    if answer[0] != UNKNOWN:
        assert answer[0] == index.classify_exact(np.array([lat]), np.array([lon]), accuracy_m)[0]
        assert answer[0] == OUTSIDE and reference_distance_m(index, lat, lon) > accuracy_m[0]


def test_table_and_exact_path_agree_on_every_point(big_square: FenceIndex) -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    lats = rng.uniform(LAT - 0.12, LAT + 0.12, n)
    lons = rng.uniform(LON - 0.12, LON + 0.12, n)
    accuracy_m = rng.choice([0.0, 3.0, 10.0, 50.0, 200.0, 1000.0, 3000.0, 20000.0], n)
    codes = big_square.classify(lats, lons, accuracy_m)
    assert big_square.table is not None
    answered = big_square.table.lookup(lats, lons, accuracy_m)
    assert 0.8 < np.mean(answered != UNKNOWN) < 1.0  # the table does most of the work, not all
    assert {INSIDE, OUTSIDE, UNCERTAIN} <= set(np.unique(answered).tolist())
    assert np.array_equal(codes, big_square.classify_exact(lats, lons, accuracy_m))


def test_small_batches_never_build_the_table() -> None:
    index = FenceIndex.from_geojson(square(LAT, LON, 500.0))
    index.classify(np.full(TABLE_MIN_POINTS - 1, LAT), np.full(TABLE_MIN_POINTS - 1, LON), 5.0)
    assert index._table_built is False
    index.classify(np.full(TABLE_MIN_POINTS, LAT), np.full(TABLE_MIN_POINTS, LON), 5.0)
    assert index._table_built is True


def test_small_batches_use_the_table_once_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    index = FenceIndex.from_geojson(square(LAT, LON, 500.0))
    small = TABLE_MIN_POINTS // 4
    for _ in range(3):
        index.classify(np.full(small, LAT), np.full(small, LON), 5.0)
    assert not index.wants_table()  # 3/4 of the threshold asked about
    index.classify(np.full(small, LAT), np.full(small, LON), 5.0)
    assert index.wants_table() and index._table_built is False  # wanted, left to the owner

    assert index.table is not None
    assert not index.wants_table()
    exact_calls: list[int] = []
    exact = index.classify_exact

    def counted(lat: FloatArray, lon: FloatArray, acc: FloatArray) -> Any:
        exact_calls.append(len(lat))
        return exact(lat, lon, acc)

    monkeypatch.setattr(index, "classify_exact", counted)
    edge = offset(LAT, LON, 0.0, 500.0)  # on the boundary: only the exact path may answer
    codes = index.classify([LAT, edge[0]], [LON, edge[1]], 5.0)
    assert codes.tolist() == [INSIDE, UNCERTAIN]
    assert exact_calls == [1]  # the centre was answered by the table


def test_grid_stays_bounded() -> None:
    small = choose_grid((114.0, 22.5, 114.01, 22.51))
    assert small is not None and small.step_lat * FINE == pytest.approx(0.004)  # finest
    for bounds in ((113.7, 22.35, 114.7, 22.9), (70.0, 15.0, 89.0, 34.0)):
        grid = choose_grid(bounds)
        assert grid is not None and grid.ncx * grid.ncy <= MAX_COARSE_CELLS * 1.05
    assert choose_grid((10.0, 84.0, 11.0, 85.0)) is None  # too near the pole


def test_no_table_for_a_fence_too_wide_to_be_worth_it() -> None:
    wide = {
        "type": "Polygon",
        "coordinates": [[[80.0, 20.0], [125.0, 20.0], [125.0, 45.0], [80.0, 45.0], [80.0, 20.0]]],
    }
    index = FenceIndex.from_geojson(wide)
    assert index.table is None
    codes = index.classify(np.full(3000, 30.0), np.full(3000, 100.0), 10.0)
    assert np.all(codes == INSIDE)


def test_points_exactly_on_cell_edges_and_the_grid_edge(big_square: FenceIndex) -> None:
    table = big_square.table
    assert table is not None
    g = table.grid
    cols = np.arange(0, g.ncx * FINE + 1, 3)
    lat = np.full(len(cols), g.south + 5 * g.step_lat)
    lon = np.asarray(g.west + cols * g.step_lon, dtype=np.float64)
    lat = np.concatenate([lat, np.array([g.south, grid_top(g)])])
    lon = np.concatenate([lon, np.array([g.west, g.west])])
    for accuracy in (0.0, 40.0, 2000.0):
        acc = np.full(len(lat), accuracy)
        answer = table.lookup(lat, lon, acc)
        known = answer != UNKNOWN
        assert np.array_equal(answer[known], big_square.classify_exact(lat, lon, acc)[known])


def test_far_m_is_a_true_lower_bound_at_the_grid_corners() -> None:
    index, table = fence("square-60N")
    g = table.grid
    for lat, lon in ((g.south, g.west), (grid_top(g), grid_right(g)), (grid_top(g), g.west)):
        assert reference_distance_m(index, lat, lon) > table.lo_m[-1]
    lat, lon = offset(60.0, 25.0, 0.0, 0.0)
    assert table.lookup(np.array([lat]), np.array([lon]), np.array([10.0]))[0] == INSIDE


def test_a_table_without_fine_cells_still_answers_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("geofence.cells.FINE_WITHIN_M", -1e9)  # no coarse cell is split
    index = FenceIndex.from_geojson(square(LAT, LON, 2000.0))
    table = index.table
    assert table is not None and len(table.lo_m) == table.grid.ncx * table.grid.ncy + 1
    rng = np.random.default_rng(8)
    lat, lon = rng.uniform(LAT - 0.06, LAT + 0.06, 5000), rng.uniform(LON - 0.06, LON + 0.06, 5000)
    accuracy_m = rng.uniform(0.0, 500.0, 5000)
    assert np.array_equal(
        index.classify(lat, lon, accuracy_m), index.classify_exact(lat, lon, accuracy_m)
    )
