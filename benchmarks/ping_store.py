"""How a flush of pings is stored: COPY (every flush without a duplicate) against the INSERT ...
ON CONFLICT that takes a flush with one, in PostgreSQL's CPU and the API's, per ping.

    python -m benchmarks.ping_store [--sizes 20,500] [--pings 100000] [--rounds 3]

Makes a scratch database on the machine's PostgreSQL (MONITOR_BENCH_ADMIN_URL, by default
postgresql://root@127.0.0.1/postgres), stores `--pings` new pings per path and flush size,
alternating the paths, and reads the backend's CPU from /proc (so PostgreSQL must run on
this machine). Medians of `--rounds`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from benchmarks import machine
from benchmarks.measure import cpu_seconds
from ingest import store
from ingest.models import Ping
from monitor import db
from pings.batch import PingBatch

DATABASE = "bench_ping_store"
Store = Callable[..., Awaitable[object]]


def flushes(size: int, count: int) -> list[list[tuple[int, Ping]]]:
    """New pings of 1,000 devices within the last hour, `count` in flushes of `size`."""
    now_us = int(time.time() * 1_000_000)
    rows = [
        (
            n % 1000 + 1,
            Ping(
                f"dev-{n % 1000}",
                now_us - random.randrange(3_600_000_000),
                22.5 + random.random() / 10,
                114.0 + random.random() / 10,
                10.0,
            ),
        )
        for n in range(count)
    ]
    return [rows[n : n + size] for n in range(0, count, size)]


async def one_run(
    conn: asyncpg.Connection, path: Store, size: int, count: int, backend: int
) -> tuple[float, float]:
    """(PostgreSQL CPU, this process's CPU), microseconds per ping."""
    ids = store.PingIds()
    work = flushes(size, count)
    pg_before, own_before = cpu_seconds(backend), time.process_time()
    for rows in work:
        await path(conn, rows=rows, first_id=await ids.take(conn, len(rows)))
    pg, own = cpu_seconds(backend) - pg_before, time.process_time() - own_before
    return pg / count * 1e6, own / count * 1e6


async def by_copy(
    conn: asyncpg.Connection, *, rows: list[tuple[int, Ping]], first_id: int
) -> object:
    """The group commit's way: the flush's columns (counted here), then the COPY."""
    return await store.store_pings(conn, batch=batch_of(rows), first_id=first_id)


async def by_insert(
    conn: asyncpg.Connection, *, rows: list[tuple[int, Ping]], first_id: int
) -> object:
    """The duplicates' way: the flush's columns (counted here), then INSERT ... ON CONFLICT."""
    return await store.insert_pings(conn, batch=batch_of(rows), first_id=first_id)


def batch_of(rows: list[tuple[int, Ping]]) -> PingBatch:
    return PingBatch.of_reports([person for person, _ in rows], [ping for _, ping in rows])


async def main(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("MONITOR_BENCH_ADMIN_URL", "postgresql://root@127.0.0.1/postgres")
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    await admin.execute(f"CREATE DATABASE {DATABASE}")
    try:
        conn = await db.connect(admin_url.rsplit("/", 1)[0] + f"/{DATABASE}")
        await db.migrate(conn)
        await db.ensure_partitions(conn, today=datetime.now(UTC).date())
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        paths: dict[str, Store] = {"COPY": by_copy, "INSERT": by_insert}
        results: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for size in (int(s) for s in args.sizes.split(",")):
            for _ in range(args.rounds):
                for name, path in paths.items():
                    run = await one_run(conn, path, size, args.pings, backend)
                    results.setdefault((size, name), []).append(run)
        await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        await admin.close()
    print(
        f"\n`python -m benchmarks.ping_store --sizes {args.sizes} --pings {args.pings} "
        f"--rounds {args.rounds}` ({machine.describe()})\n"
    )
    print("| pings per flush | stored by | PostgreSQL CPU µs/ping | API CPU µs/ping |")
    print("|---:|---|---:|---:|")
    for (size, name), runs in results.items():
        pg = statistics.median(r[0] for r in runs)
        own = statistics.median(r[1] for r in runs)
        print(f"| {size:,} | {name} | {pg:.1f} | {own:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20,500")
    parser.add_argument("--pings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
