"""The evaluator's CPU per ping, and PostgreSQL's for it, without HTTP or Redis in between.

    python -m benchmarks.evaluate_cpu [--shapes 40x1,1x500] [--pings 20000] [--rounds 3]

A shape PxN is a transaction of P persons with N pings each: under single-ping load a worker's
transaction holds a few dozen persons with a ping each (40x1); a device's batch of 500 is one
person with 500 (1x500). Persons walk inside Shenzhen (the shipped districts), one fix a
`--fix-interval-s` apart, so a position event goes out every fifth fix as the service's
default 5 s interval has it; nobody leaves, so no alert opens: this is the steady cost.

Makes a scratch database on the machine's PostgreSQL (BENCH_ADMIN_DSN, as ingest_bench), seeds
`--persons` persons, then judges `--pings` pings per shape and round through
`Evaluator.evaluate` (no gathering wait), reading this process's CPU and its PostgreSQL
backends' from /proc (so PostgreSQL must run on this machine). Medians of `--rounds`; the
shapes alternate within each round. Stream decoding and acknowledgement are not in it
(benchmarks.ingest_bench has the whole worker).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from benchmarks import machine
from benchmarks.ingest_bench import ADMIN_DSN, postgres_cpu_delta, postgres_cpu_seconds, seed
from evaluator.engine import Evaluator, EvaluatorConfig
from evaluator.state_store import Progress
from geofence.index import TABLE_MIN_POINTS
from monitor import db
from pings.batch import PingBatch
from pings.clock import ms_to_dt

DATABASE = "bench_evaluate_cpu"
CENTRE = (22.545, 114.055)  # Futian, well inside Shenzhen
Run = tuple[float, float, int]  # evaluator and PostgreSQL CPU µs per ping, events written


@dataclass
class Walkers:
    """Each person's next fix: one every `interval_ms`, a few metres from the last."""

    person_ids: list[int]
    interval_ms: int
    next_id: itertools.count[int]

    def __post_init__(self) -> None:
        start = int(time.time() * 1000) - 3_600_000
        self.ts = dict.fromkeys(self.person_ids, start)
        self.turn = itertools.cycle(self.person_ids)

    def transaction(self, persons: int, per_person: int) -> list[dict[str, Any]]:
        """One transaction's pings as rows by field name (PingBatch.of_rows)."""
        pings: list[dict[str, Any]] = []
        for person_id in itertools.islice(self.turn, persons):
            for _ in range(per_person):
                self.ts[person_id] += self.interval_ms
                pings.append(
                    {
                        "id": next(self.next_id),
                        "person_id": person_id,
                        "device_id": f"b-{person_id}",
                        "ts_ms": self.ts[person_id],
                        "lat": CENTRE[0] + random.uniform(-0.01, 0.01),
                        "lon": CENTRE[1] + random.uniform(-0.01, 0.01),
                        "accuracy_m": 10.0,
                        "checkin": False,
                        "tamper": False,
                        "battery_pct": 80.0,
                    }
                )
        return pings


async def one_run(
    evaluator: Evaluator,
    walkers: Walkers,
    database_url: str,
    shape: tuple[int, int],
    count: int,
) -> Run:
    """(evaluator CPU, PostgreSQL CPU) in microseconds per ping, and events written."""
    persons, per_person = shape
    work = [  # as the consumer hands them over, decoded from the stream
        PingBatch.of_rows(walkers.transaction(persons, per_person))
        for _ in range(count // (persons * per_person))
    ]
    pg_before, own_before = await postgres_cpu_seconds(database_url), time.process_time()
    events = 0
    for pings in work:
        progress = [Progress(0, int(pings.ids[-1]), ms_to_dt(int(time.time() * 1000)))]
        events += len(await evaluator.evaluate(pings, progress))
    own = time.process_time() - own_before
    pg = postgres_cpu_delta(pg_before, await postgres_cpu_seconds(database_url))
    judged = sum(len(p) for p in work)
    return own / judged * 1e6, pg / judged * 1e6, events


def shape_of(text: str) -> tuple[int, int]:
    """ "40x1": 40 persons with 1 ping each."""
    persons, per_person = text.split("x")
    return int(persons), int(per_person)


async def measure(
    admin_dsn: str,
    database: str,
    *,
    shapes: list[tuple[int, int]],
    pings: int,
    rounds: int,
    persons: int,
    fix_interval_s: float,
) -> dict[tuple[int, int], list[Run]]:
    """Each shape's runs, in a scratch database made and dropped here."""
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = admin_dsn.rsplit("/", 1)[0] + f"/{database}"
    results: dict[tuple[int, int], list[Run]] = {}
    try:
        conn = await db.connect(url)
        await db.migrate(conn)
        await conn.close()
        await seed(url, persons)
        pool = await db.create_pool(url, min_size=2, max_size=4)
        person_ids = [r["id"] for r in await pool.fetch("SELECT id FROM persons ORDER BY id")]
        walkers = Walkers(person_ids, int(fix_interval_s * 1000), itertools.count(1))
        evaluator = Evaluator(pool, EvaluatorConfig(position_interval_s=5.0, gather_s=0.0))
        # unmeasured: fences loaded, every person's state made, the city's cell table built
        # (wanted after TABLE_MIN_POINTS points, then seconds of CPU in a thread)
        for shape in shapes:
            warm = max(len(person_ids) * shape[1], TABLE_MIN_POINTS)
            await one_run(evaluator, walkers, url, shape, warm)
        await evaluator.fences.tables_built()
        for _ in range(rounds):
            for shape in shapes:
                run = await one_run(evaluator, walkers, url, shape, pings)
                results.setdefault(shape, []).append(run)
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return results


async def main(args: argparse.Namespace) -> None:
    results = await measure(
        ADMIN_DSN,
        DATABASE,
        shapes=[shape_of(s) for s in args.shapes.split(",")],
        pings=args.pings,
        rounds=args.rounds,
        persons=args.persons,
        fix_interval_s=args.fix_interval_s,
    )
    print(
        f"\n`python -m benchmarks.evaluate_cpu --shapes {args.shapes} --pings {args.pings} "
        f"--rounds {args.rounds} --persons {args.persons}` ({machine.describe()})\n"
    )
    print(
        "| persons x pings per transaction | evaluator CPU µs/ping | PostgreSQL CPU µs/ping "
        "| events per ping | runs (evaluator) |"
    )
    print("|---|---:|---:|---:|---|")
    for (persons, per_person), runs in results.items():
        own = statistics.median(r[0] for r in runs)
        pg = statistics.median(r[1] for r in runs)
        events = statistics.median(r[2] for r in runs) / args.pings
        each = " / ".join(f"{r[0]:.1f}" for r in runs)
        print(f"| {persons}x{per_person} | {own:.1f} | {pg:.1f} | {events:.2f} | {each} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="40x1,1x500")
    parser.add_argument("--pings", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--fix-interval-s", type=float, default=1.0)
    asyncio.run(main(parser.parse_args()))
