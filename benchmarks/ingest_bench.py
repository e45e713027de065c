"""Ingest benchmark: single-ping and batched throughput, durable and evaluated, on this machine.

    python -m benchmarks.ingest_bench [--duration 15] [--runs 3] [--devices 1000]

Runs `monitor serve` and `monitor worker` as separate processes against the machine's
PostgreSQL and Redis (a fresh database, dropped afterwards), drives them with wrk (Debian's)
and prints a Markdown table with medians. "evaluated/s" counts pings accepted during the run
divided by the time until the evaluators had judged the last of them. CPU columns are the
processes' own CPU time (user + system, children included) per request served and per ping
evaluated, and PostgreSQL backends' CPU per ping, split into the API's and the worker's backends
(told apart by `application_name`): far less sensitive than rates to whatever else shares the
machine.

`--code-dir DIR` runs the servers from another checkout (an A/B baseline made with
`git worktree add`), migrations included; `--scenarios native,batch` picks scenarios;
`--rate N` paces the load at N requests/s, to compare CPU per ping at the same load.
`--without-worker` starts no evaluator: ingest alone (authenticate, validate, group-commit COPY,
one stream entry per commit), the shape of the prototype the issue's targets came from. Pings
are stored, not evaluated, and the "evaluated" column is empty: what the same two cores do
without durable evaluation, to set beside a run with it. `--calibrate` runs
`benchmarks.bare_endpoint` once before each run and adds each run's requests/s against it:
the machines differ by 4x between sessions and drift within minutes, and the issue's targets
were set where that endpoint served 6,300 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from benchmarks import machine
from benchmarks.bare_endpoint import BareServer, bare_server
from benchmarks.measure import cpu_seconds, parse_wrk, require_wrk
from monitor import db
from monitor.demo import load_districts
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.enrol import enrol_person

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
LUA = Path(__file__).with_name("wrk_pings.lua")
SCENARIOS = {"native single": "native", "osmand single": "osmand", "native batch of 500": "batch"}
# each process's PostgreSQL backends are named after it (asyncpg passes DSN query parameters
# on as server settings), so their CPU can be told apart
API_APP, WORKER_APP = "bench-api", "bench-worker"


async def seed(database_url: str, devices: int) -> list[tuple[str, str]]:
    """Shenzhen as the allowed area, one person with an order and a device per device."""
    import shapely
    from shapely.geometry import mapping, shape

    city_shape = shapely.union_all([shape(f["geometry"]) for f in load_districts()])
    conn = await db.connect(database_url)
    made = []
    async with conn.transaction():
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="bench", level="city")
        )
        fence = await registry_store.insert_fence(
            conn,
            data=schemas.FenceIn(
                name="shenzhen", role="allowed", geometry=dict(mapping(city_shape))
            ),
        )
        for n in range(devices):
            enrolled = await enrol_person(
                conn,
                case_number=f"B-{n}",
                supervision_level="normal",
                allowed_fence_ids=[fence["id"]],
                jurisdiction_id=city.id,
                device_id=f"b-{n}",
            )
            made.append((enrolled.device_id, enrolled.token))
    await conn.close()
    return made


PARTITIONS = 8  # the servers' stream partitions


def run_wrk(
    url: str,
    mode: str,
    devices_file: Path,
    duration: int,
    connections: int,
    rate: float | None = None,
) -> dict[str, float]:
    """Closed loop (each connection sends as soon as answered), or paced near `rate` req/s
    with fix times that follow the wall clock (a device every devices/rate seconds)."""
    base_ms = int(time.time() * 1000) - 120_000
    paced: list[str] = []
    if rate:
        devices = len(devices_file.read_text().splitlines())
        paced = [f"{connections / rate * 1000:.0f}", f"{devices / rate * 1000:.0f}"]
    command = wrk_command(url, mode, devices_file, duration, connections, base_ms, *paced)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def wrk_command(
    url: str,
    mode: str,
    devices_file: Path,
    duration: int,
    connections: int,
    base_ms: int,
    *script_args: str,
) -> list[str]:
    return [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        mode,
        str(devices_file),
        str(base_ms),
        *script_args,
    ]


async def drained(redis: aioredis.Redis, partitions: int) -> bool:
    for p in range(partitions):
        for group in await redis.xinfo_groups(f"pings:{p}"):
            if group["pending"] or group.get("lag"):
                return False
    return True


async def wait_drained(redis: aioredis.Redis, partitions: int, timeout_s: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await drained(redis, partitions):
            return time.monotonic()
        # finely: the overshoot counts against "evaluated/s" (0.2 s was up to 2% of a 10 s run)
        await asyncio.sleep(0.02)
    raise RuntimeError("evaluators did not catch up")


async def postgres_cpu_seconds(database_url: str) -> dict[int, tuple[str, float]]:
    """(application_name, CPU so far) of each PostgreSQL backend serving the benchmark's
    database (same machine)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return {r["pid"]: (r["application_name"], cpu_seconds(r["pid"])) for r in rows}


def postgres_cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], role: str = ""
) -> float:
    """Backends of `role` (all when empty); those that ended in between are missed, but the
    pools keep theirs open."""
    return sum(
        cpu - before.get(pid, (name, 0.0))[1]
        for pid, (name, cpu) in after.items()
        if name.startswith(role)
    )


async def count_pings(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM pings")
        return count
    finally:
        await conn.close()


async def scenario(
    args: argparse.Namespace,
    env: dict[str, str],
    url: str,
    mode: str,
    devices_file: Path,
    redis: aioredis.Redis,
    processes: list[subprocess.Popen[bytes]],
    worker_metrics: str | None = None,
) -> dict[str, float]:
    before = await count_pings(env["DATABASE_URL"])
    transactions_before = await transaction_pings(worker_metrics)
    cpu_before = [cpu_seconds(p.pid) for p in processes]
    pg_before = await postgres_cpu_seconds(env["DATABASE_URL"])
    started = time.monotonic()
    result = await asyncio.to_thread(
        run_wrk, url, mode, devices_file, args.duration, args.connections, args.rate
    )
    serve_cpu = cpu_seconds(processes[0].pid) - cpu_before[0]
    evaluating = not args.without_worker
    finished = await wait_drained(redis, PARTITIONS) if evaluating else float("nan")
    # every worker's CPU (processes[0] is the API)
    workers = zip(processes[1:], cpu_before[1:], strict=True)
    worker_cpu = sum(cpu_seconds(p.pid) - cpu for p, cpu in workers)
    pg_after = await postgres_cpu_seconds(env["DATABASE_URL"])
    pg_cpu = postgres_cpu_delta(pg_before, pg_after)
    pg_api_cpu = postgres_cpu_delta(pg_before, pg_after, API_APP)
    pg_worker_cpu = postgres_cpu_delta(pg_before, pg_after, WORKER_APP)
    stored = await count_pings(env["DATABASE_URL"]) - before
    result["pings_per_transaction"] = per_transaction(
        transactions_before, await transaction_pings(worker_metrics)
    )
    result["pings"] = stored / args.duration
    result["evaluated"] = stored / (finished - started)
    result["api_us_per_req"] = serve_cpu / max(result["requests"], 1) * 1e6
    result["api_us_per_ping"] = serve_cpu / max(stored, 1) * 1e6
    result["worker_us_per_ping"] = worker_cpu / max(stored, 1) * 1e6
    result["pg_us_per_ping"] = pg_cpu / max(stored, 1) * 1e6
    result["pg_api_us_per_ping"] = pg_api_cpu / max(stored, 1) * 1e6
    result["pg_worker_us_per_ping"] = pg_worker_cpu / max(stored, 1) * 1e6
    return result


async def transaction_pings(metrics_url: str | None) -> tuple[float, float] | None:
    """(transactions, pings) the worker's evaluator has judged so far, from its metrics; None
    where it serves none (code from before it did, under --code-dir)."""
    if metrics_url is None:
        return None
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(metrics_url)).text
    except httpx.HTTPError:
        return None
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "monitor_evaluation_transaction_pings"
        for sample in family.samples
    }
    if not samples:
        return None
    return (
        samples["monitor_evaluation_transaction_pings_count"],
        samples["monitor_evaluation_transaction_pings_sum"],
    )


def per_transaction(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float:
    """Pings per evaluator transaction in between: under single-ping load it sets the
    evaluator's CPU per ping (benchmarks.evaluate_cpu)."""
    if before is None or after is None or after[0] == before[0]:
        return math.nan
    return (after[1] - before[1]) / (after[0] - before[0])


def start(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None, *, nice: int = 0
) -> subprocess.Popen[bytes]:
    niced = ["nice", "-n", str(nice)] if nice else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [*niced, sys.executable, "-m", "monitor", *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class BenchCluster:
    database_url: str
    url: str
    env: dict[str, str]
    redis: aioredis.Redis
    work: Path
    devices: list[tuple[str, str]]
    processes: list[subprocess.Popen[bytes]]
    worker_metrics: str | None = None  # the worker's /metrics


@contextlib.asynccontextmanager
async def bench_cluster(
    *,
    devices: int,
    api_processes: int = 1,
    extra_env: dict[str, str] | None = None,
    code_dir: Path | None = None,
    worker: bool = True,
    worker_processes: int = 1,
    api_nice: int = 0,
) -> AsyncIterator[BenchCluster]:
    """A fresh database with `devices` enrolled, `monitor serve` and (unless `worker` is
    false) `worker_processes` of `monitor worker` running (from `code_dir` when given);
    everything is stopped and dropped afterwards. The first worker's metrics are scraped.
    `api_nice` lowers the API processes' CPU priority: on two shared cores, a worker that gets
    its fair share of a core evaluates less than the API stores."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    redis = aioredis.from_url(REDIS_URL)
    await redis.flushdb()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        migrate_env = {**os.environ, "DATABASE_URL": database_url}
        if code_dir:  # the schema of the code under test, not this checkout's
            migrate_env["PYTHONPATH"] = str(code_dir)
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "monitor", "migrate"],
            env=migrate_env,
            cwd=code_dir,
            check=True,
            capture_output=True,
        )
        enrolled = await seed(database_url, devices)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "MONITOR_STREAM_PARTITIONS": str(PARTITIONS),
            "MONITOR_MAX_INFLIGHT_REQUESTS": "1024",
            **(extra_env or {}),
            **({"PYTHONPATH": str(code_dir)} if code_dir else {}),
        }
        port = 18000 + os.getpid() % 1000
        serve = ["serve", "--port", str(port), "--workers", str(api_processes)]
        serve_env = named(env, API_APP)
        processes.append(start(serve, serve_env, work / "serve.log", code_dir, nice=api_nice))
        workers = worker_processes if worker else 0
        for n in range(workers):
            worker_log = work / f"worker-{n}.log"
            worker_env = named(env, WORKER_APP) | {"MONITOR_WORKER_METRICS_PORT": str(port + 1 + n)}
            processes.append(start(["worker"], worker_env, worker_log, code_dir))
        worker_metrics = f"http://127.0.0.1:{port + 1}/metrics" if workers else None
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url)
        yield BenchCluster(database_url, url, env, redis, work, enrolled, processes, worker_metrics)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        await redis.flushdb()
        await redis.aclose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(work, ignore_errors=True)


def named(env: dict[str, str], application_name: str) -> dict[str, str]:
    url = env["DATABASE_URL"]
    return {**env, "DATABASE_URL": f"{url}?application_name={application_name}"}


def write_devices(path: Path, devices: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{d} {t}\n" for d, t in devices))
    return path


async def main(args: argparse.Namespace) -> None:
    require_wrk()
    async with bench_cluster(
        devices=args.devices,
        api_processes=args.api_processes,
        code_dir=args.code_dir,
        worker=not args.without_worker,
        worker_processes=args.worker_processes,
        api_nice=args.api_nice,
    ) as cluster:
        devices_file = write_devices(cluster.work / "devices.txt", cluster.devices)
        if args.warmup_s:
            await warm_up(args, cluster.url, devices_file, cluster.redis)
        rows = []
        with bare_server() if args.calibrate else contextlib.nullcontext() as bare:
            for label, mode in chosen(args.scenarios).items():
                for run in range(1, args.runs + 1):
                    calibration = await calibrate(bare, args.duration)
                    result = await scenario(
                        args,
                        cluster.env,
                        cluster.url,
                        mode,
                        devices_file,
                        cluster.redis,
                        cluster.processes,
                        cluster.worker_metrics,
                    )
                    if calibration is not None:
                        result["bare_rps"] = calibration
                        result["against_bare"] = result["rps"] / calibration
                    rows.append((label, run, result))
                    print(f"{label} run {run}: {result}", file=sys.stderr)
        print_table(rows, args)


async def calibrate(bare: BareServer | None, duration_s: int) -> float | None:
    """The bare endpoint's requests/s just before a run: the machine drifts within minutes,
    so each run is set against its own calibration."""
    if bare is None:
        return None
    return (await asyncio.to_thread(bare.measure, duration_s))["rps"]


async def warm_up(
    args: argparse.Namespace, url: str, devices_file: Path, redis: aioredis.Redis
) -> None:
    """Load that is not measured: what a long-running server pays once (the first
    connections, caches, a city fence's cell table, built in a thread after its first
    2,048 pings) is not charged to the first scenario."""
    await asyncio.to_thread(
        run_wrk, url, "native", devices_file, args.warmup_s, args.connections, args.rate
    )
    if not args.without_worker:
        await wait_drained(redis, PARTITIONS)
    await asyncio.sleep(3)  # a table build started near the end finishes


def chosen(names: str) -> dict[str, str]:
    modes = names.split(",")
    return {label: mode for label, mode in SCENARIOS.items() if mode in modes}


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(300):
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


def evaluated(rate: float) -> str:
    return "not evaluated" if math.isnan(rate) else f"{rate:,.0f}"


def per_transaction_cell(results: list[dict[str, float]]) -> str:
    values = (r["pings_per_transaction"] for r in results)
    known = [v for v in values if not math.isnan(v)]
    return f"{statistics.median(known):,.1f}" if known else ""


def against(label: str, ratio: float) -> str:
    """A batch request carries 500 pings: its rate against a one-ping endpoint means nothing."""
    return "" if SCENARIOS[label] == "batch" else f"{ratio:.2f}x"


def print_table(rows: list[tuple[str, int, dict[str, float]]], args: argparse.Namespace) -> None:
    print(
        f"\n`python -m benchmarks.ingest_bench --duration {args.duration} --runs {args.runs} "
        f"--devices {args.devices} --connections {args.connections} "
        f"--api-processes {args.api_processes} --warmup-s {args.warmup_s}"
        f"{f' --rate {args.rate:g}' if args.rate else ''}"
        f"{f' --code-dir {args.code_dir}' if args.code_dir else ''}"
        f"{' --without-worker' if args.without_worker else ''}"
        f"{f' --worker-processes {args.worker_processes}' if args.worker_processes != 1 else ''}"
        f"{f' --api-nice {args.api_nice}' if args.api_nice else ''}"
        f"{' --calibrate' if args.calibrate else ''}` "
        f"({os.cpu_count()} cores; API, worker, PostgreSQL, Redis and wrk on one machine; "
        f"{machine.describe()})\n"
    )
    print(
        "| scenario | requests/s | pings/s stored | pings/s evaluated | p50 ms | p99 ms | non-2xx "
        "| API CPU µs/request | API CPU µs/ping | worker CPU µs/ping | PostgreSQL CPU µs/ping "
        "| of which API's | of which worker's | pings per evaluator transaction |"
        + (" bare endpoint req/s | requests/s against it |" if args.calibrate else "")
    )
    print(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + "---:|" * 2 * args.calibrate
    )
    for label in chosen(args.scenarios):
        results = [r for name, _, r in rows if name == label]

        def med(key: str, results: list[dict[str, float]] = results) -> float:
            return statistics.median(r[key] for r in results)

        print(
            f"| {label} (median of {len(results)}) | {med('rps'):,.0f} | {med('pings'):,.0f} | "
            f"{evaluated(med('evaluated'))} | {med('p50'):.1f} | {med('p99'):.1f} | "
            f"{med('errors'):.0f} | {med('api_us_per_req'):,.0f} | "
            f"{med('api_us_per_ping'):,.1f} | {med('worker_us_per_ping'):,.1f} | "
            f"{med('pg_us_per_ping'):,.1f} | {med('pg_api_us_per_ping'):,.1f} | "
            f"{med('pg_worker_us_per_ping'):,.1f} | {per_transaction_cell(results)} |"
            + (
                f" {med('bare_rps'):,.0f} | {against(label, med('against_bare'))} |"
                if args.calibrate
                else ""
            )
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--api-processes", type=int, default=1)
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="`monitor worker`s sharing the partitions"
    )
    parser.add_argument(
        "--api-nice",
        type=int,
        default=0,
        help="run the API processes at this niceness, the workers at 0 (CPU precedence)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS.values()))
    parser.add_argument("--code-dir", type=Path, default=None)
    # a fixed load instead of as fast as it goes: CPU per ping of two versions compared at
    # the same load (at saturation a faster evaluator takes smaller batches and so spends
    # more per ping, which hides what it saves)
    parser.add_argument("--rate", type=float, default=None, help="requests/s, paced")
    parser.add_argument("--warmup-s", type=int, default=5, help="unmeasured load first")
    parser.add_argument(
        "--without-worker", action="store_true", help="ingest alone: stored, not evaluated"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="before each run, one run of benchmarks.bare_endpoint, and each rate against it",
    )
    asyncio.run(main(parser.parse_args()))
