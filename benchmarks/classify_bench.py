"""FenceIndex.classify against the ways shapely (and PostGIS) would do the same job, same points.

    python -m benchmarks.classify_bench [--points 1000000] [--runs 3]

The fence is the union of Shenzhen's 10 districts (WGS-84, 11,314 vertices). Two point sets of
`--points` each, accuracy 5–100 m: "box", uniform over Shenzhen's box (+0.05°), the issue's
set; and "walks", GPS pings of 1,000 people on 30 m random walks from homes inside the city
(mostly deep inside, as real pings are). Rows, in one run, medians of `--runs`: (a) a per-point
shapely loop (on a 20,000-point sample), (b) shapely the obvious way: project with pyproj,
prepared contains_xy + dwithin of the boundary, (c) bare prepared contains_xy (no accuracy at
all), (d) PostGIS on a 200,000-point sample, one batched query: ST_DWithin on geography against
the boundary and ST_Covers against the area, both subdivided and GiST-indexed (installs Debian's
postgresql-15-postgis-3 if it can, else skips saying why; in its own database), (e)
FenceIndex.classify. "agree" compares each answer with (b) on the same points.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import asyncpg
import numpy as np
import shapely
from pyproj import Transformer

from geofence import INSIDE, OUTSIDE, UNCERTAIN, FenceIndex

Codes = np.ndarray[Any, np.dtype[np.int8]]
Floats = np.ndarray[Any, np.dtype[np.float64]]
Points = tuple[Floats, Floats, Floats]
Row = tuple[str, float, str]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "classify_bench"
POSTGIS_PACKAGE = "postgresql-15-postgis-3"
PG_SAMPLE = 200_000
LOOP_SAMPLE = 20_000
TOLERANCE = 0.005  # contract §5: distances within 0.5% (and 0.5 m) may go either way


def median_rate(run: Callable[[], Any], n: int, runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times), result


def metric_transformer(area: Any) -> Transformer:
    centre = area.centroid
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84", always_xy=True
    )


def obvious(area: Any, lat: Floats, lon: Floats, acc: Floats) -> Codes:
    """What a careful developer writes with shapely: metric projection, contains + dwithin."""
    to_m = metric_transformer(area)
    area_m = shapely.transform(area, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    boundary_m = area_m.boundary
    shapely.prepare(area_m)
    shapely.prepare(boundary_m)
    x, y = to_m.transform(lon, lat)
    near = shapely.dwithin(boundary_m, shapely.points(x, y), acc)
    inside = shapely.contains_xy(area_m, x, y)
    return np.where(near, UNCERTAIN, np.where(inside, INSIDE, OUTSIDE)).astype(np.int8)


def per_point(area: Any, lat: Floats, lon: Floats, acc: Floats) -> Codes:
    to_m = metric_transformer(area)
    area_m = shapely.transform(area, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    out = np.empty(len(lat), dtype=np.int8)
    for i in range(len(lat)):
        point = shapely.Point(*to_m.transform(lon[i], lat[i]))
        if area_m.boundary.distance(point) <= acc[i]:
            out[i] = UNCERTAIN
        else:
            out[i] = INSIDE if area_m.contains(point) else OUTSIDE
    return out


FENCE_SQL = """
DROP TABLE IF EXISTS fence_parts, fence_edges;
CREATE TABLE fence_parts AS SELECT ST_Subdivide(ST_GeomFromText('{wkt}', 4326), 64) AS g;
CREATE TABLE fence_edges AS
    SELECT ST_Subdivide(ST_Boundary(ST_GeomFromText('{wkt}', 4326)), 32)::geography AS g;
CREATE INDEX ON fence_parts USING gist (g);
CREATE INDEX ON fence_edges USING gist (g);
ANALYZE fence_parts;
ANALYZE fence_edges;
"""
# the fence as a PostGIS user keeps it: subdivided, GiST-indexed; geodesic ST_DWithin
POSTGIS_SQL = """
SELECT array_agg(
    CASE WHEN EXISTS (SELECT FROM fence_edges e WHERE ST_DWithin(e.g, p.pt::geography, p.acc))
         THEN 0
         WHEN EXISTS (SELECT FROM fence_parts a WHERE ST_Covers(a.g, p.pt)) THEN 1
         ELSE -1 END ORDER BY p.i)
FROM (SELECT i, acc, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
      FROM unnest($1::float8[], $2::float8[], $3::float8[])
           WITH ORDINALITY AS u(lat, lon, acc, i)) p
"""


async def postgis(area: Any, points: Points, runs: int) -> tuple[float, Codes] | str:
    """(points/s, codes), or why PostGIS could not be measured."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN)
    except (OSError, asyncpg.PostgresError) as error:
        return f"skipped: no PostgreSQL at 127.0.0.1:5432 ({error})"
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB):
            await admin.execute(f"CREATE DATABASE {BENCH_DB}")
        available = "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        if not await admin.fetchval(available) and (why := install_postgis()):
            return why
    finally:
        await admin.close()
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + BENCH_DB)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        await conn.execute(FENCE_SQL.format(wkt=area.wkt))  # like our table: once per fence
        lat, lon, acc = (a.tolist() for a in points)
        times, codes = [], []
        for _ in range(runs):
            start = time.perf_counter()
            codes = await conn.fetchval(POSTGIS_SQL, lat, lon, acc)
            times.append(time.perf_counter() - start)
    finally:
        await conn.close()
    return len(lat) / statistics.median(times), np.asarray(codes, dtype=np.int8)


def install_postgis() -> str | None:
    """apt-get the Debian package (we run as root here); None on success, else why not."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"skipped: postgis not installed, and no root apt-get to install {POSTGIS_PACKAGE}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-qq", POSTGIS_PACKAGE]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"skipped: `{' '.join(command)}` failed: {done.stderr.strip()[-200:]}"
    return None


def box_points(index: FenceIndex, n: int) -> Points:
    rng = np.random.default_rng(1)
    west, south, east, north = index.area.bounds
    lat = rng.uniform(south - 0.05, north + 0.05, n)
    lon = rng.uniform(west - 0.05, east + 0.05, n)
    return lat, lon, rng.uniform(5.0, 100.0, n)


def walk_points(index: FenceIndex, n: int, people: int = 1000) -> Points:
    """Pings of people walking 30 m (sd) between pings from homes inside the city."""
    rng = np.random.default_rng(2)
    west, south, east, north = index.area.bounds
    homes = np.empty((0, 2))
    while len(homes) < people:
        lon, lat = rng.uniform(west, east, 4 * people), rng.uniform(south, north, 4 * people)
        keep = shapely.contains_xy(index.area, lon, lat)
        homes = np.concatenate([homes, np.column_stack([lat[keep], lon[keep]])])[:people]
    per = -(-n // people)
    steps = rng.normal(0.0, 30.0 / 111_000.0, (people, per, 2)).cumsum(axis=1)
    track = (homes[:, None, :] + steps).reshape(-1, 2)[:n]
    return track[:, 0].copy(), track[:, 1].copy(), rng.uniform(5.0, 100.0, n)


def measure(index: FenceIndex, points: Points, runs: int, with_pg: bool) -> list[Row]:
    lat, lon, acc = points
    area, n = index.area, len(lat)
    sample = slice(0, LOOP_SAMPLE)
    loop_rate, loop_codes = median_rate(
        lambda: per_point(area, lat[sample], lon[sample], acc[sample]), LOOP_SAMPLE, 1
    )
    b_rate, b_codes = median_rate(lambda: obvious(area, lat, lon, acc), n, runs)
    c_rate, _ = median_rate(lambda: shapely.contains_xy(area, lon, lat), n, runs)
    e_rate, e_codes = median_rate(lambda: index.classify(lat, lon, acc), n, runs)
    exact = index.classify_exact(lat, lon, acc)  # the same exact test with no table at all
    table_note = "table changes no answer" if np.array_equal(e_codes, exact) else "TABLE DIFFERS"
    rows = [
        ("(a) per-point shapely loop (20k sample)", loop_rate, agree(loop_codes, b_codes[sample])),
        ("(b) shapely: pyproj + prepared contains_xy + dwithin", b_rate, "reference"),
        ("(c) bare prepared contains_xy, no accuracy", c_rate, "-"),
    ]
    if with_pg:
        rows.append(postgis_row(index, points, b_codes, runs))
    note = f"{agree(e_codes, b_codes, index, points)}; {table_note}"
    rows.append(("(e) FenceIndex.classify (cell table + exact)", e_rate, note))
    return rows


def postgis_row(index: FenceIndex, points: Points, b_codes: Codes, runs: int) -> Row:
    sample = tuple(a[:PG_SAMPLE] for a in points)
    name = f"(d) PostGIS ST_DWithin(geography) + ST_Covers, {len(sample[0]) // 1000}k sample"
    result = asyncio.run(postgis(index.area, sample, runs))  # type: ignore[arg-type]
    if isinstance(result, str):
        return name, 0.0, result
    rate, codes = result
    return name, rate, agree(codes, b_codes[:PG_SAMPLE], index, sample)  # type: ignore[arg-type]


def agree(
    codes: Codes, reference: Codes, index: FenceIndex | None = None, points: Points | None = None
) -> str:
    """'identical', or how many differ and how near their thresholds (contract: 0.5% + 0.5 m)."""
    differ = np.flatnonzero(codes != reference)
    if len(differ) == 0:
        return "identical"
    note = f"{len(differ)} of {len(codes):,} differ"
    if index is not None and points is not None:
        lat, lon, acc = (a[differ] for a in points)
        x, y = index.projection.to_xy(lat, lon)
        gap = np.abs(shapely.distance(index.boundary_m, shapely.points(x, y)) - acc)
        banded = int(np.count_nonzero(gap < TOLERANCE * acc + 0.5))
        note += f" ({banded} in the tolerance band, distance within {gap.max():.3f} m of accuracy)"
    return note


def main(args: argparse.Namespace) -> None:
    path = resources.files("monitor") / "data" / "shenzhen_districts_wgs84.geojson"
    index = FenceIndex.from_geojson(json.loads(path.read_text(encoding="utf-8")))
    start = time.perf_counter()
    _ = index.table  # built once per fence version, like the evaluator's cache
    build_s = time.perf_counter() - start
    n = args.points
    print(
        f"\n`python -m benchmarks.classify_bench --points {n} --runs {args.runs}` "
        f"({n:,} points, accuracy 5–100 m, one thread; cell table built in {build_s:.2f} s)"
    )
    for name, points, with_pg in (
        ("box: uniform over Shenzhen's box (+0.05°), the issue's set", box_points(index, n), True),
        ("walks: 1,000 people's pings, mostly deep inside", walk_points(index, n), False),
    ):
        rows = measure(index, points, args.runs, with_pg)
        print(f"\n{name}\n\n| way | points/s | agreement with (b) |\n|---|---:|---|")
        for way, rate, note in rows:
            print(f"| {way} | {rate:,.0f} | {note} |")
        b_rate, c_rate, e_rate = rows[1][1], rows[2][1], rows[-1][1]
        print(f"\nclassify vs (b): {e_rate / b_rate:.1f}x; vs (c): {e_rate / c_rate:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args())
