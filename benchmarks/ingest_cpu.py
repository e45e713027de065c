"""The API's own CPU per ping on a batched upload, stage by stage, in one process.

    python -m benchmarks.ingest_cpu [--pings 500] [--repeats 7]

End-to-end runs (benchmarks.ingest_bench) share two cores between five processes and vary by
tens of percent from one minute to the next; this times the pure-Python stages of one
request of `--pings` pings, as wrk sends them in the batch scenario, with nothing else
running. Each figure is the median of `--repeats` rounds of 200 requests, in microseconds per
ping. Not timed: the socket, the COPY itself (asyncpg, C) and the Redis round trip.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks import machine
from ingest import engine, group_commit, schemas, store
from ingest.models import Ping
from pings.batch import PingBatch
from pings.clock import dt_to_us
from pings.copy import plain_copy

ROUNDS = 200
PARTITIONS = 8


def body(pings: int, now_ms: int) -> bytes:
    """What benchmarks/wrk_pings.lua posts in its batch mode."""
    items = [
        f'{{"ts":{now_ms - pings + k},"lat":{22.55 + (k % 97) * 0.0001:.6f},'
        f'"lon":{114.05 + (k % 89) * 0.0001:.6f},"accuracy_m":10}}'
        for k in range(pings)
    ]
    return ('{"pings":[' + ",".join(items) + "]}").encode()


def timed(stage: Callable[[], Any], pings: int, repeats: int) -> float:
    rounds = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(ROUNDS):
            stage()
        rounds.append((time.perf_counter() - began) / ROUNDS / pings * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pings", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    now = datetime.now(UTC)
    raw = body(args.pings, dt_to_us(now) // 1000)
    limits = schemas.Limits(now, 300, 180)
    items = schemas.parse_body(raw, "application/json")
    valid, rejected = engine.validate(items, "d", limits)
    assert len(valid) == args.pings and not rejected
    order = ((dt_to_us(now) - 86_400_000_000, dt_to_us(now) + 86_400_000_000),)
    # two orders, neither covering the whole request: the per-ping path
    middle = valid[len(valid) // 2][1].ts_us
    split = ((0, middle), (middle, dt_to_us(now) + 1))
    rows: list[tuple[int, Ping]] = [(17, p) for _, p in valid]
    flush = PingBatch.of_reports([17] * len(rows), [p for _, p in rows])
    new_ids = {place: 10**9 + place for place in range(len(rows))}

    def stream() -> None:
        group_commit.stream_entries(flush, new_ids, PARTITIONS, received_ms=0)

    def per_item() -> None:
        for item in items:
            schemas.item_to_ping(item, device_id="d", limits=limits)

    stages: list[tuple[str, Callable[[], Any]]] = [
        ("parse the body (orjson)", lambda: schemas.parse_body(raw, "application/json")),
        ("validate, column by column (a plain batch)", lambda: engine.validate(items, "d", limits)),
        ("validate, item by item (any error or optional field)", per_item),
        ("monitoring order, one window covers all", lambda: engine.split_by_order(valid, order)),
        ("monitoring order, checked ping by ping", lambda: engine.split_by_order(valid, split)),
        (
            "the flush's columns, for the COPY and the stream (PingBatch.of_reports)",
            lambda: PingBatch.of_reports([17] * len(rows), [p for _, p in rows]),
        ),
        ("COPY data, column by column (plain pings)", lambda: plain_copy(flush, 10**9)),
        (
            "COPY's records for asyncpg, ping by ping (a flush with any other ping; "
            "asyncpg's encoding of them not counted)",
            lambda: store.copy_records(flush, 10**9),
        ),
        ("stream entries (columns, one per partition)", stream),
    ]
    print(
        f"\n`python -m benchmarks.ingest_cpu --pings {args.pings} --repeats {args.repeats}` "
        f"({machine.describe()})\n"
    )
    print("| stage of one request | µs per ping (median) |")
    print("|---|---:|")
    total = 0.0
    for name, stage in stages:
        cost = timed(stage, args.pings, args.repeats)
        if "ping by ping" not in name and "item by item" not in name:
            total += cost
        print(f"| {name} | {cost:.2f} |")
    print(f"| **total** (a plain batch, one order window) | **{total:.2f}** |")


if __name__ == "__main__":
    main()
