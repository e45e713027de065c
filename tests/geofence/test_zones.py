"""ZoneIndex against one FenceIndex per zone and a geodesic reference, near every zone's edge."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex
from geofence.crs import wgs84_to_gcj02
from geofence.errors import InvalidGeometryError, InvalidInputError, UnknownCrsError
from geofence.zones import ZoneHits, ZoneIndex
from tests.geofence.support import (
    GEOD,
    PROPERTY,
    offset,
    reference_code,
    reference_distance_m,
    ring_around,
    square,
)

Json = dict[str, Any]
LAT, LON = 22.55, 114.05  # Futian, Shenzhen


def circle(lat: float, lon: float, radius_m: float, n: int = 24) -> Json:
    ring = [
        offset(lat, lon, radius_m * np.cos(t), radius_m * np.sin(t))[::-1]
        for t in np.linspace(0, 2 * np.pi, n + 1)[:-1]
    ]
    return {"type": "Polygon", "coordinates": [[*map(list, ring), list(ring[0])]]}


def in_gcj02(geometry: Json) -> Json:
    rings = []
    for ring in geometry["coordinates"]:
        lonlat = np.asarray(ring)
        lat, lon = wgs84_to_gcj02(lonlat[:, 1], lonlat[:, 0])
        rings.append(np.column_stack([lon, lat]).tolist())
    return {"type": "Polygon", "coordinates": rings}


def scene() -> list[tuple[int, Json, str]]:
    """Overlapping zones, one in GCJ-02, one with a hole, a big irregular one, one far away."""
    hole = ring_around(*offset(LAT, LON, 900, 0), 80)[::-1]
    star = [
        offset(LAT, LON, r * np.cos(t), r * np.sin(t) - 1500)[::-1]
        for r, t in zip([1200, 500, 1000, 300, 1400, 700, 900], np.linspace(0, 6, 7), strict=True)
    ]
    return [
        (30, square(LAT, LON, 150), "wgs84"),
        (10, circle(*offset(LAT, LON, 120, 60), 90), "wgs84"),  # overlaps zone 30
        (20, in_gcj02(circle(*offset(LAT, LON, -250, 0), 60)), "gcj02"),
        (40, square(*offset(LAT, LON, 900, 0), 300, holes=[hole]), "wgs84"),
        (50, {"type": "Polygon", "coordinates": [[*map(list, star), list(star[0])]]}, "wgs84"),
        (60, square(39.9, 116.4, 200), "wgs84"),  # Beijing: a second plane
    ]


@cache
def zones(local: bool = False) -> ZoneIndex:
    """All zones, or (local) those in Shenzhen only, where the map's bitmap is finest."""
    return ZoneIndex.from_zones(scene()[:-1] if local else scene())


@cache
def fences() -> dict[int, FenceIndex]:
    return {zone_id: FenceIndex.from_geojson(g, crs=crs) for zone_id, g, crs in scene()}


@cache
def vertices() -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.vstack([shapely.get_coordinates(f.area.boundary) for f in fences().values()])


def codes_of(hits: ZoneHits, n: int, zone_ids: list[int]) -> np.ndarray[Any, Any]:
    """The dense (point, zone) code matrix that hits stand for."""
    out = np.full((n, len(zone_ids)), OUTSIDE, dtype=np.int8)
    column = {z: k for k, z in enumerate(zone_ids)}
    for p, z, c in zip(hits.point, hits.zone, hits.code, strict=True):
        assert out[p, column[int(z)]] == OUTSIDE, "a pair listed twice"
        out[p, column[int(z)]] = c
    return out


def near_edges(n: int, seed: int) -> tuple[Any, Any, Any]:
    """Points near the edges, and on the fringe of the map's cover with accuracies to match."""
    rng = np.random.default_rng(seed)
    lon0, lat0 = vertices()[rng.integers(0, len(vertices()), n)].T
    kind = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])  # near, fringe, deep inside with wide discs
    distance = np.choose(
        kind, [rng.exponential(60, n), rng.uniform(60, 160, n), rng.uniform(100, 1000, n)]
    )
    lon, lat, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360, n), distance)
    acc = np.where(rng.random(n) < 0.9, rng.uniform(0, 100, n), rng.uniform(100, 3000, n))
    return lat, lon, np.choose(kind, [acc, rng.uniform(60, 100, n), rng.uniform(100, 500, n)])


@pytest.mark.parametrize(("seed", "local"), [(1, False), (2, False), (3, True)])
def test_agrees_exactly_with_one_fence_index_per_zone(seed: int, local: bool) -> None:
    lat, lon, acc = near_edges(20_000, seed)
    index = zones(local)
    got = codes_of(index.classify(lat, lon, acc), len(lat), index.zone_ids.tolist())
    for k, zone_id in enumerate(index.zone_ids.tolist()):
        expected = fences()[zone_id].classify(lat, lon, acc)
        assert np.array_equal(got[:, k], expected), zone_id


def test_zones_beside_the_antimeridian_see_pings_across_it() -> None:
    scene = [(1, square(0.0, 179.9992, 60), "wgs84"), (2, square(-60.0, -179.9982, 80), "wgs84")]
    index = ZoneIndex.from_zones(scene)
    rng = np.random.default_rng(4)
    for zone_id, geometry, _ in scene:
        fence = FenceIndex.from_geojson(geometry)
        centre = fence.area.centroid
        n = 5000
        lon, lat, _ = GEOD.fwd(
            np.full(n, centre.x),
            np.full(n, centre.y),
            rng.uniform(0, 360, n),
            rng.uniform(0, 250, n),
        )
        acc = rng.uniform(0, 100, n)
        got = codes_of(index.classify(lat, lon, acc), n, [1, 2])[:, zone_id - 1]
        # the exact path: FenceIndex's H3 table does not yet handle boxes across ±180°
        assert np.array_equal(got, fence.classify_exact(lat, lon, acc)), zone_id
        assert np.any(got != OUTSIDE) and np.any((lon < 0) != (centre.x < 0))


def test_far_pings_with_huge_accuracies_are_measured_on_the_ground() -> None:
    """Hundreds of km from the zones' plane, where it stretches: ground distances decide."""
    rng = np.random.default_rng(5)
    lon, lat, _ = GEOD.fwd(
        np.full(12, LON), np.full(12, LAT), rng.uniform(0, 360, 12), rng.uniform(400e3, 1500e3, 12)
    )
    index = zones(local=True)
    for i in range(12):
        distances = [reference_distance_m(fences()[z], lat[i], lon[i]) for z in index.zone_ids]
        accuracy = float(np.median(distances)) * rng.uniform(0.999, 1.001)
        got = codes_of(index.classify([lat[i]], [lon[i]], [accuracy]), 1, index.zone_ids.tolist())
        for k, zone_id in enumerate(index.zone_ids.tolist()):
            expected = reference_code(fences()[zone_id], lat[i], lon[i], accuracy, distances[k])
            assert expected is None or got[0, k] == expected, (zone_id, i)


def test_zones_near_a_pole_are_refused() -> None:
    with pytest.raises(InvalidGeometryError, match=r"^zone 5: reaches beyond ±85° latitude"):
        ZoneIndex.from_zones([(5, square(86.0, 10.0, 100), "wgs84")])


@PROPERTY
@given(
    pick=st.integers(0, 10**9),
    bearing=st.floats(0.0, 360.0),
    distance_m=st.floats(0.0, 400.0) | st.floats(0.0, 20.0),
    accuracy_m=st.floats(0.0, 120.0) | st.floats(100.0, 5000.0) | st.sampled_from([0.0, 100.0]),
)
def test_agrees_with_the_geodesic_reference(
    pick: int, bearing: float, distance_m: float, accuracy_m: float
) -> None:
    lon0, lat0 = vertices()[pick % len(vertices())]
    lon, lat, _ = GEOD.fwd(lon0, lat0, bearing, distance_m)
    got = codes_of(zones().classify([lat], [lon], [accuracy_m]), 1, sorted(fences()))[0]
    for k, zone_id in enumerate(sorted(fences())):
        expected = reference_code(fences()[zone_id], lat, lon, accuracy_m)
        assert expected is None or got[k] == expected, (zone_id, lat, lon, accuracy_m)


def test_shape_of_the_answer() -> None:
    index = zones()
    assert len(index) == 6
    assert index.zone_ids.tolist() == [10, 20, 30, 40, 50, 60]
    hits = index.classify([LAT, LAT, 0.0], [LON, LON + 0.0008, 0.0], [5.0, 5.0, 5.0])
    assert hits.point.dtype == np.int64 and hits.zone.dtype == np.int64
    assert hits.code.dtype == np.int8
    pairs = sorted(zip(hits.point.tolist(), hits.zone.tolist(), hits.code.tolist(), strict=True))
    assert pairs == [(0, 30, INSIDE), (1, 10, INSIDE), (1, 30, INSIDE)]


def test_a_point_on_an_edge_is_uncertain_even_with_perfect_accuracy() -> None:
    lat, lon = offset(LAT, LON, 150, 0)
    hits = zones().classify([lat], [lon], [0.0])
    assert (30, UNCERTAIN) in zip(hits.zone.tolist(), hits.code.tolist(), strict=True)


def test_pings_in_gcj02_are_converted_first() -> None:
    lat, lon = wgs84_to_gcj02(np.array([LAT]), np.array([LON]))
    hits = zones().classify(lat, lon, [5.0], crs="gcj02")
    assert hits.zone.tolist() == [30] and hits.code.tolist() == [INSIDE]


def test_no_zones_means_no_hits() -> None:
    empty = ZoneIndex.from_zones([])
    hits = empty.classify([LAT, LAT], [LON, LON], [5.0, 5000.0])
    assert len(empty) == 0 and len(hits) == 0


def test_repairs_are_reported_with_the_zone_id() -> None:
    west, south = LON, LAT
    bowtie = [
        [west, south],
        [west + 0.01, south + 0.01],
        [west + 0.01, south],
        [west, south + 0.01],
    ]
    index = ZoneIndex.from_zones([(7, {"type": "Polygon", "coordinates": [bowtie]}, "wgs84")])
    assert index.warnings and all(w.startswith("zone 7:") for w in index.warnings)
    assert "self-intersects" in " ".join(index.warnings)


@pytest.mark.parametrize(
    ("geometry", "crs", "error", "why"),
    [
        (
            {"type": "Polygon", "coordinates": [[[114, 22], [114.1, 22], [114.2, 22], [114, 22]]]},
            "wgs84",
            InvalidGeometryError,
            "collapsed ring",
        ),
        ({"type": "Point", "coordinates": [114, 22]}, "wgs84", InvalidGeometryError, "Point"),
        (square(LAT, LON, 100), "utm", UnknownCrsError, "'utm'"),
    ],
)
def test_refusals_name_the_zone_id(geometry: Json, crs: str, error: type, why: str) -> None:
    with pytest.raises(error, match=f"^zone 9: .*{why}"):
        ZoneIndex.from_zones([(1, square(LAT, LON, 100), "wgs84"), (9, geometry, crs)])


def test_a_zone_id_given_twice_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^zone 3: "):
        ZoneIndex.from_zones([(3, square(LAT, LON, 100), "wgs84")] * 2)
