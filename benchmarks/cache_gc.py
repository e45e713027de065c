"""A fleet-sized cache against Python's full garbage collections: plain dict or SettledCache.

    python -m benchmarks.cache_gc [--sizes 80000,1000000] [--repeats 5]

Fills each cache with entries shaped like ingest's device cache (a key tuple, a value tuple of
plain values), then, repeatedly: one new entry (a first lookup, or a device re-read after a
change), then one full collection, timed. That is the stop every request in flight waits out.
Also times a hit, the price of looking in two dicts. Medians of `--repeats`.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import machine
from pings.settled_cache import SettledCache


def entry(n: int) -> tuple[tuple[str, bytes], tuple[float, tuple[str, int, str, bool]]]:
    return ("token", b"%032d" % n), (time.monotonic(), (f"device-{n}", n, "native", False))


def filled(kind: str, size: int) -> Any:
    cache: Any = {} if kind == "dict" else SettledCache()
    for n in range(size):
        key, value = entry(n)
        cache[key] = value
    gc.collect()
    gc.collect()  # a plain dict is untracked after two quiet full collections: its best case
    return cache


def full_collection_ms(cache: Any, size: int, repeats: int) -> float:
    times = []
    for r in range(repeats):
        key, value = entry(size + r)
        cache[key] = value
        began = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def hit_ns(cache: Any, size: int, repeats: int) -> float:
    keys = [entry(n)[0] for n in range(0, size, max(size // 100_000, 1))]
    get: Callable[[Any], Any] = cache.get
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        for key in keys:
            get(key)
        times.append((time.perf_counter() - began) / len(keys) * 1e9)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="80000,1000000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"\n`python -m benchmarks.cache_gc --sizes {args.sizes} --repeats {args.repeats}` "
        f"({machine.describe()})\n"
    )
    print("| entries | cache | full collection after one new entry, ms | hit, ns |")
    print("|---:|---|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in ("dict", "SettledCache"):
            cache = filled(kind, size)
            stop_ms = full_collection_ms(cache, size, args.repeats)
            lookup_ns = hit_ns(cache, size, args.repeats)
            print(f"| {size:,} | {kind} | {stop_ms:.1f} | {lookup_ns:.0f} |")
            del cache
            gc.collect()


if __name__ == "__main__":
    main()
