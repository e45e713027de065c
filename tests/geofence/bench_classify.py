"""Throughput of FenceIndex.classify on ~1M points around the Shenzhen boundary.

Run: .venv/bin/python -m tests.geofence.bench_classify [points]
Prints points/s (median of 3 runs) for uniform points over the city's box, and for points
within 2 km of the boundary (the hard case: most need exact geometry), table vs exact path.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import shapely

from geofence import FenceIndex
from tests.geofence.support import GEOD, boundary_file

Codes = np.ndarray[Any, np.dtype[np.int8]]


def median_rate(run: Callable[[], Codes], n: int) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main(n: int) -> None:
    index = FenceIndex.from_geojson(
        boundary_file("shenzhen/transbigdata_sz_districts_wgs84.geojson")
    )
    rng = np.random.default_rng(1)
    west, south, east, north = index.area.bounds
    box = (rng.uniform(south - 0.05, north + 0.05, n), rng.uniform(west - 0.05, east + 0.05, n))
    vertices = shapely.get_coordinates(index.area.boundary)
    pick = rng.integers(0, len(vertices), n)
    lon, lat, _ = GEOD.fwd(
        vertices[pick, 0], vertices[pick, 1], rng.uniform(0, 360, n), rng.uniform(0, 2000, n)
    )
    accuracy_m = rng.uniform(5.0, 100.0, n)
    start = time.perf_counter()
    _ = index.table
    print(f"cell table build: {time.perf_counter() - start:.2f} s")
    for name, (la, lo) in {"box": box, "near boundary": (lat, lon)}.items():
        table = median_rate(partial(index.classify, la, lo, accuracy_m), n)
        exact = median_rate(partial(index.classify_exact, la, lo, accuracy_m), n)
        print(f"{name:>14}: classify {table:,.0f} points/s; exact path only {exact:,.0f} points/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
