"""Geometry hygiene: each repair is reported, each refusal names the feature, polygon and ring."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from geofence import INSIDE, OUTSIDE, FenceIndex, InvalidGeometryError
from tests.geofence.support import boundary_file, offset, ring_around, square

LAT, LON = 22.54, 114.05
SQUARE = [[114.0, 22.5], [114.01, 22.5], [114.01, 22.51], [114.0, 22.51], [114.0, 22.5]]


def polygon(*rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def collection(*geometries: dict[str, Any], names: tuple[str, ...] = ()) -> dict[str, Any]:
    features = [
        {"type": "Feature", "properties": {"name": n} if n else {}, "geometry": g}
        for g, n in zip(geometries, names or ("",) * len(geometries), strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def test_clockwise_shell_and_counter_clockwise_hole_are_normalised_silently() -> None:
    hole = ring_around(22.505, 114.005, 100.0)  # counter-clockwise, as a shell would be
    index = FenceIndex.from_geojson(polygon(SQUARE[::-1], hole))
    assert index.warnings == ()
    assert index.area.exterior.is_ccw and not index.area.interiors[0].is_ccw
    expected = shapely.Polygon(SQUARE, [hole]).area
    assert index.area.area == pytest.approx(expected, rel=1e-6)


def test_unclosed_ring_is_closed_with_a_warning() -> None:
    index = FenceIndex.from_geojson(collection(polygon(SQUARE[:-1]), names=("home",)))
    assert index.warnings == ("feature 0 (home) polygon 0 ring 0: ring was not closed; closed it",)
    assert index.area.area == pytest.approx(1e-4, rel=1e-6)


def test_repeated_positions_are_removed_with_a_warning() -> None:
    ring = [SQUARE[0], SQUARE[1], SQUARE[1], SQUARE[2], SQUARE[3], SQUARE[3], SQUARE[0]]
    index = FenceIndex.from_geojson(polygon(ring))
    assert index.warnings == (
        "geometry polygon 0 ring 0: 2 repeated consecutive position(s) removed",
    )


def test_bow_tie_is_repaired_naming_the_ring_and_both_lobes_count() -> None:
    bow_tie = [[114.0, 22.5], [114.02, 22.52], [114.02, 22.5], [114.0, 22.52], [114.0, 22.5]]
    index = FenceIndex.from_geojson(collection(polygon(SQUARE), polygon(bow_tie), names=("a", "b")))
    (warning,) = index.warnings
    assert warning.startswith("feature 1 (b) polygon 0: ring 0 self-intersects (Self-intersection")
    codes = index.classify([22.51, 22.51], [114.002, 114.018], [1.0, 1.0])
    assert codes.tolist() == [INSIDE, INSIDE]


def test_beijing_shunyi_self_intersection_is_repaired_naming_the_feature() -> None:
    index = FenceIndex.from_geojson(
        boundary_file("beijing/datav_110000_beijing_districts.geojson"), crs="gcj02"
    )
    (warning,) = index.warnings
    assert warning.startswith("feature 9 (顺义区): polygons 0 and 1 overlap or touch")
    assert "Self-intersection" in warning and "merged as their union" in warning
    assert index.area.is_valid


def test_shenzhen_files_load_without_warnings() -> None:
    for name in (
        "shenzhen/datav_440300_shenzhen_districts.geojson",
        "shenzhen/districts/datav_440305_nanshan.geojson",
    ):
        index = FenceIndex.from_geojson(boundary_file(name), crs="gcj02")
        assert index.warnings == () and index.area.is_valid
    nanshan = FenceIndex.from_geojson(
        boundary_file("shenzhen/districts/datav_440305_nanshan.geojson"), crs="gcj02"
    )
    assert len(nanshan.area.geoms) == 4  # the mainland and three islands


def test_virginia_holes_survive_and_are_outside() -> None:
    data = boundary_file("usa/usatlas_virginia_counties_with_holes.geojson")
    albemarle = next(f for f in data["features"] if f["properties"]["name"] == "Albemarle")
    index = FenceIndex.from_geojson(albemarle)
    assert len(index.area.interiors) == 1  # Charlottesville
    # Charlottesville's city centre, and a point in Albemarle's countryside
    assert index.classify([38.03, 38.15], [-78.48, -78.70], [100.0, 100.0]).tolist() == [
        OUTSIDE,
        INSIDE,
    ]
    everything = FenceIndex.from_geojson(data)
    assert sum(len(p.interiors) for p in everything.area.geoms) == 0  # cities fill the holes


def test_slivers_are_dropped_with_a_warning() -> None:
    tiny = square(LAT, LON + 0.1, 0.3)["coordinates"]  # 0.36 m²
    main = square(LAT, LON, 500.0)["coordinates"]
    pinhole = ring_around(LAT, LON, 0.2)[::-1]
    geometry = {"type": "MultiPolygon", "coordinates": [[*main, pinhole], tiny]}
    index = FenceIndex.from_geojson(geometry)
    assert index.warnings == (
        "geometry polygon 0: 1 sliver hole(s) under 1 m² dropped",
        "geometry polygon 1: sliver under 1 m² dropped",
    )
    assert index.area.geom_type == "Polygon" and not index.area.interiors


def test_positions_may_carry_altitude() -> None:
    index = FenceIndex.from_geojson(polygon([[*p, 12.5] for p in SQUARE]))
    assert index.warnings == ()


REFUSALS = [
    (polygon(SQUARE[:2]), "geometry polygon 0 ring 0: a ring needs at least 4 positions"),
    (
        polygon([SQUARE[0], SQUARE[1], SQUARE[1], SQUARE[0]]),
        "geometry polygon 0 ring 0: a ring needs at least 4 positions",
    ),
    (
        polygon([[114.0, 22.5], [114.01, 22.51], [114.02, 22.52], [114.0, 22.5]]),
        "geometry polygon 0 ring 0: collapsed ring",
    ),
    (
        polygon([[114.0, 22.5], [114.01, 22.5], [114.01, 22.51], [114.01, 22.5], [114.0, 22.5]]),
        "geometry polygon 0: ring 0 self-intersects .*nothing polygonal survives repair",
    ),
    (polygon([[114.0, 91.0], *SQUARE[1:]]), "geometry polygon 0 ring 0: position out of range"),
    (polygon([[181.0, 22.5], *SQUARE[1:]]), "geometry polygon 0 ring 0: position out of range"),
    (polygon([["114", 22.5], *SQUARE[1:]]), "geometry polygon 0 ring 0: every position must be"),
    (polygon([[True, 22.5], *SQUARE[1:]]), "geometry polygon 0 ring 0: every position must be"),
    (polygon([[float("nan"), 22.5], *SQUARE[1:]]), "ring 0: every position must be"),
    (polygon([[114.0], *SQUARE[1:]]), "ring 0: every position must be"),
    (polygon(SQUARE, [[114.0, 22.5], "x"]), "geometry polygon 0 ring 1: a ring needs at least 4"),
    ({"type": "Point", "coordinates": [114.0, 22.5]}, "geometry: type 'Point' is not a Polygon"),
    ({"type": "LineString", "coordinates": SQUARE}, "type 'LineString' is not a Polygon"),
    ({"type": "Polygon", "coordinates": []}, "geometry: Polygon has no coordinates"),
    ({"type": "MultiPolygon", "coordinates": [[]]}, "polygon 0: a polygon needs an outer ring"),
    ({"type": "FeatureCollection", "features": []}, "features: a FeatureCollection needs"),
    ({"type": "Feature", "properties": {"name": "x"}, "geometry": None}, "feature 0 \\(x\\)"),
    (polygon(square(LAT, LON, 0.2)["coordinates"][0]), "nothing polygonal remains"),
]


@pytest.mark.parametrize(("geometry", "message"), REFUSALS)
def test_refusals_name_the_place_and_the_reason(geometry: Any, message: str) -> None:
    with pytest.raises(InvalidGeometryError, match=message) as caught:
        FenceIndex.from_geojson(geometry)
    assert isinstance(caught.value, ValueError)


def test_refusal_names_feature_by_index_and_id() -> None:
    bad = polygon(SQUARE, [[114.001, 22.501], [114.002, 22.501], [114.001, 22.501]])
    obj = collection(polygon(SQUARE), bad)
    obj["features"][1]["id"] = "curfew-7"
    with pytest.raises(InvalidGeometryError, match=r"^feature 1 \(curfew-7\) polygon 0 ring 1: "):
        FenceIndex.from_geojson(obj)


def test_not_a_dict_is_refused() -> None:
    with pytest.raises(InvalidGeometryError, match="expected a GeoJSON object"):
        FenceIndex.from_geojson([SQUARE])  # type: ignore[arg-type]


def test_edges_are_straight_in_lon_lat_even_when_long() -> None:
    """A 0.5° edge along a parallel: the fence follows the parallel, not the shorter geodesic."""
    lat = 45.0
    shell = [[10.0, lat], [10.5, lat], [10.5, lat + 0.2], [10.0, lat + 0.2], [10.0, lat]]
    index = FenceIndex.from_geojson(polygon(shell))
    on_edge = offset(lat, 10.25, 0.0, 0.0)
    assert index.classify([on_edge[0]], [on_edge[1]], [0.0]).tolist() == [0]
    inside = offset(lat, 10.25, 0.0, 2.0)
    assert index.classify([inside[0]], [inside[1]], [1.0]).tolist() == [INSIDE]


def test_neighbours_sharing_long_edges_merge_without_a_seam() -> None:
    """Shared 0.3° edges are densified identically from both sides, even through GCJ-02."""
    west = polygon([[113.7, 22.4], [114.0, 22.4], [114.0, 22.7], [113.7, 22.7], [113.7, 22.4]])
    east = polygon([[114.0, 22.4], [114.3, 22.4], [114.3, 22.7], [114.0, 22.7], [114.0, 22.4]])
    for crs in ("wgs84", "gcj02", "bd09"):
        index = FenceIndex.from_geojson(collection(west, east), crs=crs)
        assert index.warnings == ()
        assert index.area.geom_type == "Polygon" and not index.area.interiors
        assert index.classify([22.55], [114.0], [500.0], crs=crs).tolist() == [INSIDE]
