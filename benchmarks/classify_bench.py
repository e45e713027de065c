"""FenceIndex.classify against the ways shapely (and PostGIS) would do the same job, same points.

    python -m benchmarks.classify_bench [--points 1000000] [--runs 3]

Points are uniform over Shenzhen's box (+0.05°) with accuracy 5–100 m; the fence is the union
of the 10 districts (WGS-84, 11,314 vertices). Rows, in one run, medians of `--runs`:
(a) a per-point shapely loop (on a 20,000-point sample), (b) shapely the obvious way: project
with pyproj, prepared contains_xy + dwithin of the boundary, (c) bare prepared contains_xy
(no accuracy at all), (d) PostGIS ST_Covers/ST_DWithin when the extension is available,
(e) FenceIndex.classify. "agree" compares each answer with (b) on the same points.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex

Codes = np.ndarray[Any, np.dtype[np.int8]]


def median_rate(run: Callable[[], Any], n: int, runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times), result


def obvious(area: Any, lat: np.ndarray, lon: np.ndarray, acc: np.ndarray) -> Codes:
    """What a careful developer writes with shapely: metric projection, contains + dwithin."""
    centre = area.centroid
    to_m = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84", always_xy=True
    )
    area_m = shapely.transform(area, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    boundary_m = area_m.boundary
    shapely.prepare(area_m)
    shapely.prepare(boundary_m)
    x, y = to_m.transform(lon, lat)
    near = shapely.dwithin(boundary_m, shapely.points(x, y), acc)
    inside = shapely.contains_xy(area_m, x, y)
    return np.where(near, UNCERTAIN, np.where(inside, INSIDE, OUTSIDE)).astype(np.int8)


def per_point(area: Any, lat: np.ndarray, lon: np.ndarray, acc: np.ndarray) -> Codes:
    centre = area.centroid
    to_m = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84", always_xy=True
    )
    area_m = shapely.transform(area, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    out = np.empty(len(lat), dtype=np.int8)
    for i in range(len(lat)):
        point = shapely.Point(*to_m.transform(lon[i], lat[i]))
        if area_m.boundary.distance(point) <= acc[i]:
            out[i] = UNCERTAIN
        else:
            out[i] = INSIDE if area_m.contains(point) else OUTSIDE
    return out


async def postgis(
    area: Any, lat: np.ndarray, lon: np.ndarray, acc: np.ndarray, runs: int
) -> float | None:
    import asyncpg

    try:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    except OSError:
        return None
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except asyncpg.PostgresError:
        await conn.close()
        return None
    sql = """
    SELECT count(*) FROM unnest($1::float8[], $2::float8[], $3::float8[]) AS p(lat, lon, acc),
         (SELECT ST_GeogFromText($4) AS g) f
    WHERE ST_DWithin(f.g, ST_MakePoint(p.lon, p.lat)::geography, p.acc)
    """
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await conn.fetchval(sql, lat.tolist(), lon.tolist(), acc.tolist(), area.wkt)
        times.append(time.perf_counter() - start)
    await conn.close()
    return len(lat) / statistics.median(times)


def main(args: argparse.Namespace) -> None:
    path = resources.files("monitor") / "data" / "shenzhen_districts_wgs84.geojson"
    index = FenceIndex.from_geojson(json.loads(path.read_text(encoding="utf-8")))
    rng = np.random.default_rng(1)
    west, south, east, north = index.area.bounds
    n = args.points
    lat = rng.uniform(south - 0.05, north + 0.05, n)
    lon = rng.uniform(west - 0.05, east + 0.05, n)
    acc = rng.uniform(5.0, 100.0, n)
    sample = slice(0, 20_000)
    area = index.area
    shapely.prepare(area)
    rows: list[tuple[str, float, str]] = []
    loop_rate, loop_codes = median_rate(
        lambda: per_point(area, lat[sample], lon[sample], acc[sample]), 20_000, 1
    )
    b_rate, b_codes = median_rate(lambda: obvious(area, lat, lon, acc), n, args.runs)
    c_rate, _ = median_rate(lambda: shapely.contains_xy(area, lon, lat), n, args.runs)
    _ = index.table  # built once per fence version, like the evaluator's cache
    e_rate, e_codes = median_rate(lambda: index.classify(lat, lon, acc), n, args.runs)
    rows.append(
        ("(a) per-point shapely loop (20k sample)", loop_rate, agree(loop_codes, b_codes[sample]))
    )
    rows.append(("(b) shapely: pyproj + prepared contains_xy + dwithin", b_rate, "reference"))
    rows.append(("(c) bare prepared contains_xy, no accuracy", c_rate, "-"))
    pg = asyncio.run(postgis(area, lat[:200_000], lon[:200_000], acc[:200_000], args.runs))
    rows.append(
        (
            "(d) PostGIS ST_DWithin, 200k points",
            pg or 0.0,
            "-" if pg else "skipped: postgis extension not installed",
        )
    )
    rows.append(("(e) FenceIndex.classify (H3 table + exact)", e_rate, agree(e_codes, b_codes)))
    print(
        f"\n`python -m benchmarks.classify_bench --points {n} --runs {args.runs}` "
        f"({n:,} points over Shenzhen's box, accuracy 5–100 m, one thread)\n"
    )
    print("| way | points/s | agreement with (b) |\n|---|---:|---|")
    for name, rate, note in rows:
        print(f"| {name} | {rate:,.0f} | {note} |")
    print(f"\nclassify vs (b): {e_rate / b_rate:.1f}x; vs (c): {e_rate / c_rate:.2f}x")


def agree(codes: Codes, reference: Codes) -> str:
    differ = int(np.count_nonzero(codes != reference))
    return "identical" if differ == 0 else f"{differ} of {len(codes):,} differ"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args())
