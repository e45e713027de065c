"""Ping → officer WebSocket latency at a fixed load, end to end through ingest, evaluation and hub.

    python -m benchmarks.ws_latency --rate 1000 [--connections 128] [--duration 20]
    python -m benchmarks.ws_latency --position-interval-s 0 --connections 24   # every ping shown

`monitor serve` and `monitor worker` run as separate processes against the machine's
PostgreSQL and Redis (a fresh database, dropped afterwards). wrk posts single pings from the
enrolled devices as background load, paced near `--rate` req/s with fix times that follow the
clock (or closed-loop without `--rate`). Probe devices post a ping every
`--probe-interval-s`, longer than the position interval, so each of their pings is shown on
the officer's map; the ping's fix time is the moment it is sent, and an officer's WebSocket
measures how long after that its `position` message arrived. The servers run with the
shipped position interval (5 s) unless `--position-interval-s` says otherwise. Probe pings of
the first `--warmup-s` seconds (connections opening, caches filling, each probe person's first
ping) are not counted: a deployed service has been running for hours.
`--code-dir DIR` runs the servers from another checkout, as in `ingest_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import websockets

from benchmarks import machine
from benchmarks.ingest_bench import (
    PARTITIONS,
    BenchCluster,
    bench_cluster,
    run_wrk,
    wait_drained,
    write_devices,
    wrk_command,
)
from benchmarks.measure import parse_wrk, require_wrk
from monitor import db
from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role


async def officer_token(database_url: str, base_url: str) -> str:
    conn = await db.connect(database_url)
    city = await conn.fetchval("SELECT id FROM jurisdictions WHERE parent_id IS NULL LIMIT 1")
    await auth_store.insert_officer(
        conn,
        username="bench",
        password_hash=security.hash_password("bench-password"),
        display_name="bench",
        role=Role.ADMIN,
        jurisdiction_id=city,
    )
    await conn.close()
    async with httpx.AsyncClient(base_url=base_url) as client:
        reply = await client.post(
            "/v1/auth/token", data={"username": "bench", "password": "bench-password"}
        )
        token: str = reply.json()["access_token"]
        return token


async def probe(
    client: httpx.AsyncClient, device: tuple[str, str], duration: float, interval: float
) -> int:
    """A ping every `interval` seconds from one device; its fix time is the moment it is sent."""
    sent = 0
    await asyncio.sleep(random.uniform(0, interval))  # the probes spread over the interval
    began = time.monotonic()
    while time.monotonic() - began < duration:
        body = {"ts": int(time.time() * 1000), "lat": 22.55, "lon": 114.05, "accuracy_m": 10}
        reply = await client.post(
            "/v1/pings", json=body, headers={"Authorization": f"Bearer {device[1]}"}
        )
        sent += reply.status_code == 202
        await asyncio.sleep(interval)
    return sent


async def probes(base_url: str, devices: list[tuple[str, str]], args: argparse.Namespace) -> int:
    limits = httpx.Limits(max_connections=len(devices))
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as client:
        duration = args.duration - args.probe_interval_s - 1
        sent = await asyncio.gather(
            *(probe(client, d, duration, args.probe_interval_s) for d in devices)
        )
    return sum(sent)


@dataclass(frozen=True)
class Seen:
    """One probe position: when it was sent (its fix time), when the evaluator's transaction
    that wrote its event began (the event's created_at), and when the officer got it."""

    person_id: int
    fix: float
    evaluated: float
    arrived: float


async def listen(ws_url: str, person_ids: set[int], seen: list[Seen], stop: asyncio.Event) -> None:
    async with websockets.connect(ws_url, max_queue=None) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            arrived = time.time()
            message = json.loads(raw)
            if message.get("type") == "position" and message.get("person_id") in person_ids:
                fix = datetime.fromisoformat(message["ts"]).timestamp()
                evaluated = datetime.fromisoformat(message["created_at"]).timestamp()
                seen.append(Seen(message["person_id"], fix, evaluated, arrived))


async def main(args: argparse.Namespace) -> None:
    require_wrk()
    extra = {
        "MONITOR_POSITION_INTERVAL_S": f"{args.position_interval_s:g}",
        "MONITOR_WS_QUEUE_MAX": "100000",
    }
    async with bench_cluster(
        devices=args.devices, extra_env=extra, code_dir=args.code_dir, api_nice=args.api_nice
    ) as cluster:
        token = await officer_token(cluster.database_url, cluster.url)
        probe_devices, load_devices = (
            cluster.devices[: args.probes],
            cluster.devices[args.probes :],
        )
        devices_file = write_devices(cluster.work / "devices.txt", load_devices)
        if args.warm_fleet:
            await warm_fleet(cluster, devices_file, len(load_devices), args)
        person_ids = await persons_of(cluster.database_url, [d[0] for d in probe_devices])
        seen: list[Seen] = []
        stop = asyncio.Event()
        ws_url = cluster.url.replace("http://", "ws://") + f"/v1/stream?token={token}"
        listener = asyncio.create_task(listen(ws_url, set(person_ids), seen, stop))
        await asyncio.sleep(1)
        load = asyncio.create_task(
            asyncio.to_thread(
                run_wrk,
                cluster.url,
                "native",
                devices_file,
                int(args.duration),
                args.connections,
                args.rate,
            )
        )
        measured_from = time.time() + args.warmup_s
        sent = await probes(cluster.url, probe_devices, args)
        loaded = await load
        await asyncio.sleep(2)
        stop.set()
        await listener
        seen = [s for s in seen if s.fix >= measured_from]
        received = await received_at(cluster.database_url, person_ids)
        report(args, loaded["rps"], sent, seen, received)


async def warm_fleet(
    cluster: BenchCluster, devices_file: Path, devices: int, args: argparse.Namespace
) -> None:
    """Every load device pings once, closed loop, before anything is measured, and the workers
    judge it all: a service that has run for a while has seen every device of its fleet. (The
    paced load goes round the devices once every devices/rate seconds, so without this a
    large fleet is measured on caches still filling: at 80,000 devices and 650 req/s, a
    third of the API's time went to first lookups of devices and orders.) Its fix times lie
    ten minutes back, before the paced load's."""
    began = time.monotonic()
    base_ms = int(time.time() * 1000) - 600_000
    # each wrk thread stops after its half of the devices, but wrk itself waits out its
    # duration: it is stopped (SIGINT, and it reports) once every device's ping is stored
    command = wrk_command(
        cluster.url, "native", devices_file, 3600, args.connections, base_ms, "0", "1", "once"
    )
    wrk = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    conn = await asyncpg.connect(cluster.database_url)
    try:
        while await conn.fetchval("SELECT count(*) FROM pings") < devices:
            if wrk.returncode is not None:
                sys.exit("wrk ended before every device had pinged")
            await asyncio.sleep(1)
    finally:
        await conn.close()
        wrk.send_signal(signal.SIGINT)
    warmed = parse_wrk((await wrk.communicate())[0].decode())
    await wait_drained(cluster.redis, PARTITIONS, timeout_s=600)
    print(
        f"warmed {devices} devices in {time.monotonic() - began:.0f} s "
        f"({warmed['rps']:.0f} req/s, {warmed['errors']:.0f} non-2xx)",
        file=sys.stderr,
    )


async def persons_of(database_url: str, device_ids: list[str]) -> list[int]:
    conn = await asyncpg.connect(database_url)
    rows = await conn.fetch("SELECT person_id FROM devices WHERE id = ANY($1)", device_ids)
    await conn.close()
    return [r["person_id"] for r in rows]


async def received_at(database_url: str, person_ids: list[int]) -> dict[tuple[int, int], float]:
    """(person, fix time ms) → when ingest's group commit began the transaction storing it."""
    conn = await asyncpg.connect(database_url)
    rows = await conn.fetch(
        "SELECT person_id, ts, received_at FROM pings WHERE person_id = ANY($1)", person_ids
    )
    await conn.close()
    return {
        (r["person_id"], round(r["ts"].timestamp() * 1000)): r["received_at"].timestamp()
        for r in rows
    }


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


def report(
    args: argparse.Namespace,
    load_rps: float,
    sent: int,
    seen: list[Seen],
    received: dict[tuple[int, int], float],
) -> None:
    if not seen:
        sys.exit("no position events arrived")
    latencies = [(s.arrived - s.fix) * 1000 for s in seen]
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    rate = f" --rate {args.rate:g}" if args.rate else ""
    print(
        f"\n`python -m benchmarks.ws_latency{rate} --connections {args.connections} "
        f"--duration {args.duration:g} --devices {args.devices} --probes {args.probes} "
        f"--probe-interval-s {args.probe_interval_s:g} "
        f"--position-interval-s {args.position_interval_s:g} --warmup-s {args.warmup_s:g}"
        f"{'' if args.warm_fleet else ' --no-warm-fleet'}"
        f"{f' --api-nice {args.api_nice}' if args.api_nice else ''}` "
        f"({machine.describe()})\n"
    )
    print("| background load req/s | probe pings | positions measured | p50 ms | p99 ms | max ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {load_rps:,.0f} | {sent} | {len(latencies)} | {statistics.median(latencies):.0f} | "
        f"{p99:.0f} | {ordered[-1]:.0f} |"
    )
    # where the time went: the stages' clocks are the probe's, PostgreSQL's and the listener's,
    # all on this machine
    stages: dict[str, list[float]] = {
        "sent → ingest transaction began": [],
        "ingest transaction → evaluator transaction began": [],
        "evaluator transaction → officer's socket": [],
    }
    for s in seen:
        stored = received.get((s.person_id, round(s.fix * 1000)))
        if stored is None:
            continue
        stages["sent → ingest transaction began"].append((stored - s.fix) * 1000)
        stages["ingest transaction → evaluator transaction began"].append(
            (s.evaluated - stored) * 1000
        )
        stages["evaluator transaction → officer's socket"].append((s.arrived - s.evaluated) * 1000)
    print("\n| stage | p50 ms | p99 ms |\n|---|---:|---:|")
    for name, values in stages.items():
        if values:
            p50, p99 = percentiles(values)
            print(f"| {name} | {p50:.0f} | {p99:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=None, help="pace the load near this req/s")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections (load)")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=50, help="probe devices")
    parser.add_argument("--probe-interval-s", type=float, default=5.5)
    parser.add_argument("--position-interval-s", type=float, default=5.0)
    parser.add_argument(
        "--warmup-s", type=float, default=5, help="probe pings sent before this are not counted"
    )
    parser.add_argument(
        "--no-warm-fleet",
        dest="warm_fleet",
        action="store_false",
        help="skip the first pass over every load device (see warm_fleet)",
    )
    parser.add_argument("--code-dir", type=Path, default=None, help="serve from this checkout")
    parser.add_argument(
        "--api-nice", type=int, default=0, help="the API (and hub) process at this niceness"
    )
    asyncio.run(main(parser.parse_args()))
