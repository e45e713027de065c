"""ZoneIndex.classify against the obvious shapely way, 10,000 exclusion zones over Shenzhen.

    python -m benchmarks.zones_bench [--zones 10000] [--points 1000000] [--runs 3]

Zones (seeded): centres uniform over Shenzhen's land; 60% circles of radius 25–200 m (homes,
schools), 38.5% rotated rectangles of 50–300 m sides (campuses, checkpoints), 0.5% irregular
polygons up to 3 km across (parks, border crossings), 1% squares with a hole; a third of them
given in GCJ-02, as Chinese map data would be. Pings: uniform over the city's land, accuracy
5–100 m, then the same pings with 2% of them cell-tower fixes of 100–2000 m.
Rows, in one run on the same points, medians of `--runs`, one thread: (a) shapely the obvious
way: an STRtree of the zones projected with pyproj, queried with dwithin per batch of points,
then prepared contains_xy + dwithin of each candidate's boundary; (b) ZoneIndex.classify.
"agree" compares the (point, zone, code) triples of (b) with (a).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # h3ronpy: one thread, like everything else

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from geofence import INSIDE, OUTSIDE, UNCERTAIN
from geofence.crs import wgs84_to_gcj02
from geofence.geometry import area_from_geojson
from geofence.zones import ZoneIndex

CITY = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "boundaries"
    / "shenzhen"
    / "transbigdata_sz_districts_wgs84.geojson"
)
M_PER_DEG = 111_195.0
BATCH = 100_000
ON_BOUNDARY_M = 0.005  # the same float-noise slack ZoneIndex and FenceIndex give the boundary

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Zone = tuple[int, dict[str, Any], str]
Ints = np.ndarray[Any, np.dtype[np.int64]]
Triples = tuple[Ints, Ints, np.ndarray[Any, np.dtype[np.int8]]]


def city_land() -> Any:
    area, _ = area_from_geojson(json.loads(CITY.read_text(encoding="utf-8")), "wgs84")
    shapely.prepare(area)
    return area


def on_land(land: Any, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """n points uniform over the land polygon, by rejection from its box."""
    west, south, east, north = land.bounds
    lat, lon = np.empty(0), np.empty(0)
    while len(lat) < n:
        la, lo = rng.uniform(south, north, 2 * n), rng.uniform(west, east, 2 * n)
        keep = shapely.contains_xy(land, lo, la)
        lat, lon = np.r_[lat, la[keep]], np.r_[lon, lo[keep]]
    return lat[:n], lon[:n]


def ring(lat: float, lon: float, east_m: FloatArray, north_m: FloatArray) -> list[list[float]]:
    scale = M_PER_DEG * math.cos(math.radians(lat))
    coords = [[lon + e / scale, lat + n / M_PER_DEG] for e, n in zip(east_m, north_m, strict=True)]
    return [*coords, coords[0]]


def circle(lat: float, lon: float, radius_m: float) -> list[list[list[float]]]:
    t = np.linspace(0, 2 * np.pi, 33)[:-1]
    return [ring(lat, lon, radius_m * np.cos(t), radius_m * np.sin(t))]


def rectangle(lat: float, lon: float, rng: np.random.Generator) -> list[list[list[float]]]:
    w, h, turn = rng.uniform(50, 300), rng.uniform(50, 300), rng.uniform(0, np.pi)
    e, n = np.array([-w, w, w, -w]) / 2, np.array([-h, -h, h, h]) / 2
    c, s = math.cos(turn), math.sin(turn)
    return [ring(lat, lon, c * e - s * n, s * e + c * n)]


def irregular(lat: float, lon: float, rng: np.random.Generator) -> list[list[list[float]]]:
    k = int(rng.integers(12, 41))
    t = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = rng.uniform(300, 1500) * rng.uniform(0.5, 1.0, k)
    return [ring(lat, lon, r * np.cos(t), r * np.sin(t))]


def holed(lat: float, lon: float, rng: np.random.Generator) -> list[list[list[float]]]:
    half = rng.uniform(100, 400)
    shell = ring(lat, lon, np.array([-1, 1, 1, -1]) * half, np.array([-1, -1, 1, 1]) * half)
    hole = ring(lat, lon, np.array([-1, -1, 1, 1]) * half / 2, np.array([-1, 1, 1, -1]) * half / 2)
    return [shell, hole]


def in_crs(rings: list[list[list[float]]], crs: str) -> list[list[list[float]]]:
    if crs == "wgs84":
        return rings
    out = []
    for r in rings:
        lonlat = np.asarray(r)
        lat, lon = wgs84_to_gcj02(lonlat[:, 1], lonlat[:, 0])
        out.append(np.column_stack([lon, lat]).tolist())
    return out


def make_zones(land: Any, count: int, rng: np.random.Generator) -> list[Zone]:
    lat, lon = on_land(land, count, rng)
    kinds = rng.choice(4, size=count, p=[0.60, 0.385, 0.005, 0.01])
    zones: list[Zone] = []
    for i in range(count):
        la, lo = float(lat[i]), float(lon[i])
        match kinds[i]:
            case 0:
                rings = circle(la, lo, float(np.exp(rng.uniform(math.log(25), math.log(200)))))
            case 1:
                rings = rectangle(la, lo, rng)
            case 2:
                rings = irregular(la, lo, rng)
            case _:
                rings = holed(la, lo, rng)
        crs = "gcj02" if rng.random() < 1 / 3 else "wgs84"
        zones.append((1000 + i, {"type": "Polygon", "coordinates": in_crs(rings, crs)}, crs))
    return zones


class Obvious:
    """What a careful developer writes with shapely: one metric plane, an STRtree, two tests."""

    def __init__(self, areas: list[Any], zone_ids: Ints) -> None:
        west, south, east, north = shapely.total_bounds(areas)
        self.to_m = Transformer.from_crs(
            "EPSG:4326",
            f"+proj=aeqd +lat_0={(south + north) / 2} +lon_0={(west + east) / 2} +datum=WGS84",
            always_xy=True,
        )
        self.areas_m = shapely.transform(np.asarray(areas, dtype=object), self.lonlat_to_xy)
        self.boundaries_m = shapely.boundary(self.areas_m)
        shapely.prepare(self.areas_m)
        shapely.prepare(self.boundaries_m)
        self.tree = shapely.STRtree(self.areas_m)
        self.zone_ids = zone_ids

    def lonlat_to_xy(self, rows: FloatArray) -> FloatArray:
        return np.column_stack(self.to_m.transform(rows[:, 0], rows[:, 1]))

    def classify(self, lat: FloatArray, lon: FloatArray, acc: FloatArray) -> Triples:
        parts = [
            self.batch(lat[s : s + BATCH], lon[s : s + BATCH], acc[s : s + BATCH], s)
            for s in range(0, len(lat), BATCH)
        ]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]

    def batch(self, lat: FloatArray, lon: FloatArray, acc: FloatArray, first: int) -> Triples:
        x, y = self.to_m.transform(lon, lat)
        points = shapely.points(x, y)
        reach = acc + ON_BOUNDARY_M
        p, z = self.tree.query(points, predicate="dwithin", distance=reach)
        near = shapely.dwithin(self.boundaries_m[z], points[p], reach[p])
        inside = shapely.contains_xy(self.areas_m[z], x[p], y[p])
        code = np.where(near, UNCERTAIN, np.where(inside, INSIDE, OUTSIDE)).astype(np.int8)
        keep = code != OUTSIDE
        return p[keep] + first, self.zone_ids[z[keep]], code[keep]


def median_rate(run: Callable[[], Any], n: int, runs: int) -> tuple[float, float, Any]:
    """Points per second by wall clock and by this process's CPU time, medians of runs."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return n / statistics.median(walls), n / statistics.median(cpus), result


def agree(got: Triples, reference: Triples) -> str:
    def ordered(t: Triples) -> tuple[Ints, Any]:
        key = t[0] * (int(reference[1].max(initial=0)) + 1) + t[1]
        order = np.argsort(key)
        return key[order], t[2][order]

    (gk, gc), (rk, rc) = ordered(got), ordered(reference)
    if len(gk) == len(rk) and np.array_equal(gk, rk) and np.array_equal(gc, rc):
        return f"identical ({len(rk):,} pairs)"
    return f"differ: {len(gk):,} vs {len(rk):,} pairs"


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(7)
    land = city_land()
    zones = make_zones(land, args.zones, rng)
    lat, lon = on_land(land, args.points, rng)
    acc = rng.uniform(5.0, 100.0, args.points)
    wide = acc.copy()  # the same pings, 2% of them cell-tower fixes
    some = rng.random(args.points) < 0.02
    wide[some] = rng.uniform(100.0, 2000.0, int(some.sum()))
    start = time.perf_counter()
    index = ZoneIndex.from_zones(zones)
    build_s = time.perf_counter() - start
    obvious = Obvious(index.areas, index.zone_ids)  # the same repaired WGS-84 areas
    print(
        f"\n`python -m benchmarks.zones_bench --zones {args.zones} --points {args.points} "
        f"--runs {args.runs}` ({args.zones:,} zones, {args.points:,} pings over Shenzhen's land, "
        f"one thread, medians of {args.runs})\n"
    )
    print("| way | pings/s (wall) | pings/s (CPU) | agree |\n|---|---:|---:|---|")
    for label, accuracy in (("accuracy 5–100 m", acc), ("2% of them 100–2000 m", wide)):
        a_wall, a_cpu, a_hits = median_rate(
            partial(obvious.classify, lat, lon, accuracy), len(lat), args.runs
        )
        b_wall, b_cpu, hits = median_rate(
            partial(index.classify, lat, lon, accuracy), len(lat), args.runs
        )
        same = agree((hits.point, hits.zone, hits.code), a_hits)
        print(
            f"| (a) shapely: STRtree dwithin + contains + dwithin; {label} | {a_wall:,.0f} "
            f"| {a_cpu:,.0f} | reference |"
        )
        print(f"| (b) ZoneIndex.classify; {label} | {b_wall:,.0f} | {b_cpu:,.0f} | {same} |")
        print(f"| (b) vs (a), by CPU time | | {b_cpu / a_cpu:.1f}x | |")
    print(
        f"\nZoneIndex.from_zones: {build_s:.1f} s, "
        f"{len(index.map.cells):,} cells, {len(index.map.zone):,} (cell, zone) pairs."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args())
