"""WGS-84 ⇄ GCJ-02 ⇄ BD-09: published values, round trips, and the real Shenzhen boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geofence import Crs, FenceIndex, UnknownCrsError
from geofence.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from tests.geofence.support import GEOD, PROPERTY, boundary_file

china_lat = st.floats(18.0, 53.0)
china_lon = st.floats(74.0, 134.0)


def metres(lat1: object, lon1: object, lat2: object, lon2: object) -> float:
    _, _, distance = GEOD.inv(lon1, lat1, lon2, lat2)
    return float(np.max(distance))


def test_published_reference_values() -> None:
    """wandergis/coordtransform's README example at (39.915, 116.404), to the last digit."""
    assert np.allclose(wgs84_to_gcj02(39.915, 116.404), (39.91640428150164, 116.41024449916938))
    assert np.allclose(gcj02_to_bd09(39.915, 116.404), (39.92133699351021, 116.41036949371029))


def test_beijing_offset_is_a_few_hundred_metres() -> None:
    glat, glon = wgs84_to_gcj02(39.90, 116.39)
    assert 300 < metres(39.90, 116.39, glat, glon) < 800


@PROPERTY
@given(china_lat, china_lon)
def test_gcj02_round_trip_within_a_centimetre(lat: float, lon: float) -> None:
    wlat, wlon = gcj02_to_wgs84(lat, lon)
    assert metres(lat, lon, *wgs84_to_gcj02(wlat, wlon)) < 0.01
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert metres(lat, lon, *gcj02_to_wgs84(glat, glon)) < 0.01


@PROPERTY
@given(china_lat, china_lon)
def test_bd09_round_trips_within_a_centimetre(lat: float, lon: float) -> None:
    assert metres(lat, lon, *gcj02_to_bd09(*bd09_to_gcj02(lat, lon))) < 0.01
    assert metres(lat, lon, *bd09_to_gcj02(*gcj02_to_bd09(lat, lon))) < 0.01
    assert metres(lat, lon, *bd09_to_wgs84(*wgs84_to_bd09(lat, lon))) < 0.01


def test_outside_china_gcj02_is_wgs84() -> None:
    lat, lon = np.array([51.5, 40.7, -33.9]), np.array([-0.12, -74.0, 151.2])
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lat, out_lon = convert(lat, lon)
        assert np.array_equal(out_lat, lat) and np.array_equal(out_lon, lon)


def test_vectorized_and_order_is_lat_lon() -> None:
    lat, lon = np.full(1000, 22.54), np.full(1000, 114.05)
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert glat.shape == (1000,) and np.all(np.abs(glat - 22.54) < 0.01)
    assert np.all(np.abs(glon - 114.05) < 0.01)


def test_to_wgs84_dispatch_and_unknown_names() -> None:
    assert parse_crs("GCJ02") is Crs.GCJ02
    lat, lon = wgs84_to_bd09(22.54, 114.05)
    assert metres(22.54, 114.05, *to_wgs84(lat, lon, "bd09")) < 0.01
    assert to_wgs84([22.54], [114.05], "wgs84")[0].tolist() == [22.54]
    with pytest.raises(UnknownCrsError, match="crs: 'wgs-84' is not one of"):
        to_wgs84(22.54, 114.05, "wgs-84")


def iou(a: object, b: object) -> float:
    return float(shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b)))


def test_shenzhen_wgs84_file_matches_datav_gcj02_districts() -> None:
    """SOURCES.md: transbigdata's WGS-84 districts and DataV's GCJ-02 ones are the same city."""
    wgs = FenceIndex.from_geojson(boundary_file("shenzhen/transbigdata_sz_districts_wgs84.geojson"))
    datav = boundary_file("shenzhen/datav_440300_shenzhen_districts.geojson")
    converted = FenceIndex.from_geojson(datav, crs="gcj02")
    misread = FenceIndex.from_geojson(datav, crs="wgs84")
    assert iou(wgs.area, converted.area) >= 0.99
    assert iou(wgs.area, misread.area) < 0.95  # the ~650 m offset is real and visible


def test_nanshan_district_matches_after_conversion() -> None:
    wgs = boundary_file("shenzhen/transbigdata_sz_districts_wgs84.geojson")
    nanshan_wgs = next(f for f in wgs["features"] if f["properties"]["qh"] == "南山")
    datav = boundary_file("shenzhen/districts/datav_440305_nanshan.geojson")
    a = FenceIndex.from_geojson(nanshan_wgs).area
    assert iou(a, FenceIndex.from_geojson(datav, crs="gcj02").area) >= 0.99
    assert iou(a, FenceIndex.from_geojson(datav, crs="wgs84").area) < 0.9
