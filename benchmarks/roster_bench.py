"""The persons and devices lists on a city's worth of devices, against PostgreSQL: how long a
page takes, and the device-silence filter that needs every device's latest fix.

    python -m benchmarks.roster_bench [--persons 3000] [--days 180] [--rounds 5] [--keep]
                                      [--database bench_roster]

Makes a scratch database on the machine's PostgreSQL (MONITOR_BENCH_ADMIN_URL, by default
postgresql://root@127.0.0.1/postgres) with a day's partitions for `--days` back and a week
ahead, `--persons` persons with an ankle band each and every fifth a phone too, each enrolled
and under an order since before the oldest fix; a device reports every 10 minutes over the
last day and once a day before that, except 5% last heard 10 to 100 days ago and 2% never
heard. Medians of `--rounds`, in milliseconds, of the
statements the routes run (monitor/registry/roster_store.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from monitor import db
from monitor.registry import roster_store
from monitor.registry.roster_store import DeviceFilter, PersonFilter, PersonSort, PersonStatus

DATABASE = "bench_roster"
SETUP = """
INSERT INTO jurisdictions (name, level) VALUES ('city', 'city');
INSERT INTO persons (case_number, full_name, supervision_level, jurisdiction_id)
SELECT 'C-' || lpad(n::text, 6, '0'), 'name ' || n,
       (ARRAY['strict', 'normal', 'lenient'])[1 + n % 3], 1
FROM generate_series(1, $1::int) n;
INSERT INTO devices (id, person_id, kind) SELECT 'ankle-' || id, id, 'ankle' FROM persons;
INSERT INTO devices (id, person_id, kind) SELECT 'phone-' || id, id, 'phone' FROM persons
WHERE id % 5 = 0;
"""
# which devices report: n % 100 < 93 now; 93..97 last heard 10-100 days ago; 98, 99 never
PINGS_RECENT = """
INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m, battery_pct)
SELECT d.id, d.person_id, $1::timestamptz - make_interval(mins => 10 * k), 22.5, 114.0, 10,
       100 - k / 3
FROM devices d, generate_series(0, 143) k WHERE d.person_id % 100 < 93
"""
PINGS_DAILY = """
INSERT INTO pings (device_id, person_id, ts, lat, lon, accuracy_m, battery_pct)
SELECT d.id, d.person_id, $1::timestamptz - make_interval(days => k), 22.5, 114.0, 10, 50
FROM devices d, generate_series(1, $2::int) k
WHERE d.person_id % 100 < 93 OR (d.person_id % 100 < 98 AND k >= 10 + d.person_id % 91)
"""
# as the evaluator leaves them: each reporting device's newest fix judged (state.devices)
STATES = """
INSERT INTO person_state (person_id, state, last_ts, last_lat, last_lon)
SELECT p.id, jsonb_build_object(
           'area', jsonb_build_object(
               'status', CASE WHEN p.id % 50 = 0 THEN 'outside' ELSE 'inside' END),
           'devices', (SELECT jsonb_object_agg(d.id, jsonb_build_object('last_ms', $2::bigint))
                       FROM devices d WHERE d.person_id = p.id)),
       $1, 22.5, 114.0
FROM persons p WHERE p.id % 100 < 93
"""
# every device enrolled, and every person under an order in force, since before the oldest ping
ENROLLED = """
UPDATE devices SET created_at = $1::timestamptz - make_interval(days => $2::int + 1)
"""
ORDERS = """
INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at)
SELECT id, 'electronic_positioning', $1::timestamptz - make_interval(days => $2::int + 1),
       $1::timestamptz + interval '30 days'
FROM persons
"""
# the lookup the devices of a person had before: by device_id alone, which no index leads with
OLD_LIST_DEVICES = """
SELECT d.id, f.ts FROM devices d
LEFT JOIN LATERAL (
    SELECT p.ts FROM pings p WHERE p.device_id = d.id ORDER BY p.ts DESC LIMIT 1
) f ON true
WHERE d.person_id = ANY($1::bigint[])
"""


NEVER_HEARD = [n for n in range(1, 3001) if n % 100 >= 98]


async def build(conn: asyncpg.Connection, persons: int, days: int) -> None:
    today = datetime.now(UTC).date()
    await conn.fetchval(
        "SELECT ensure_ping_partitions($1, $2)", today - timedelta(days=days), today + timedelta(7)
    )
    now = datetime.now(UTC)
    async with conn.transaction():
        for statement in SETUP.strip().split(";\n"):
            args = [persons] if "$1" in statement else []
            await conn.execute(statement, *args)
    await conn.execute(PINGS_RECENT, now)
    await conn.execute(PINGS_DAILY, now, days)
    await conn.execute(STATES, now, round(now.timestamp() * 1000))
    await conn.execute(ENROLLED, now, days)
    await conn.execute(ORDERS, now, days)
    await conn.execute("ANALYZE")


async def timed(f: Callable[[], Awaitable[object]], rounds: int) -> tuple[float, object]:
    result: object = None
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = await f()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def cases(conn: asyncpg.Connection) -> dict[str, Callable[[], Awaitable[object]]]:
    everyone, devices = PersonFilter("/1/"), DeviceFilter("/1/")

    async def persons_page(where: PersonFilter, limit: int) -> object:
        rows = await roster_store.list_person_rows(conn, where=where, limit=limit, offset=0)
        return await roster_store.persons_devices(conn, person_ids=[r["id"] for r in rows])

    def device_page(where: DeviceFilter, limit: int) -> Callable[[], Awaitable[object]]:
        return lambda: roster_store.list_device_rows(conn, where=where, limit=limit, offset=0)

    return {
        "persons, first 100 with their devices": lambda: persons_page(everyone, 100),
        "persons, 1000 by status with their devices": lambda: persons_page(
            PersonFilter("/1/", sort=PersonSort.STATUS), 1000
        ),
        "persons, status=outside": lambda: persons_page(
            PersonFilter("/1/", status=[PersonStatus.OUTSIDE]), 100
        ),
        "persons, q=C-0012": lambda: persons_page(PersonFilter("/1/", q="C-0012"), 100),
        "devices, first 100": device_page(devices, 100),
        "devices, 1000": device_page(devices, 1000),
        "devices, silent=true (every device's fix)": device_page(
            DeviceFilter("/1/", silent=True), 100
        ),
        "devices of the 2% never heard (every partition probed)": lambda: (
            roster_store.persons_devices(conn, person_ids=NEVER_HEARD)
        ),
        "devices of 10 persons, lookup by device_id alone (before)": lambda: conn.fetch(
            OLD_LIST_DEVICES, list(range(1, 11))
        ),
    }


async def main(args: argparse.Namespace) -> None:
    database = args.database
    admin_url = os.environ.get("MONITOR_BENCH_ADMIN_URL", "postgresql://root@127.0.0.1/postgres")
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"DROP DATABASE IF EXISTS {database}")
    await admin.execute(f"CREATE DATABASE {database}")
    try:
        conn = await db.connect(admin_url.rsplit("/", 1)[0] + f"/{database}")
        await db.migrate(conn)
        start = time.perf_counter()
        await build(conn, args.persons, args.days)
        pings = await conn.fetchval("SELECT count(*) FROM pings")
        devices = await conn.fetchval("SELECT count(*) FROM devices")
        print(f"{args.persons} persons, {devices} devices, {pings} pings over {args.days} days")
        print(f"(built in {time.perf_counter() - start:.0f} s)")
        for name, case in cases(conn).items():
            ms, result = await timed(case, 1 if "before" in name else args.rounds)
            rows = len(result) if isinstance(result, list) else "?"
            print(f"{ms:9.1f} ms  {rows:>5} rows  {name}")
        await conn.close()
    finally:
        if not args.keep:
            await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default=DATABASE, help="the scratch database's name")
    parser.add_argument("--keep", action="store_true", help="leave the database for EXPLAIN")
    asyncio.run(main(parser.parse_args()))
