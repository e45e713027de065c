"""Ping → officer WebSocket latency at a fixed load, end to end through ingest, evaluation and hub.

    python -m benchmarks.ws_latency [--connections 8] [--duration 20] [--devices 1000]

`monitor serve` and `monitor worker` run as separate processes against the machine's
PostgreSQL and Redis (a fresh database, dropped afterwards), with a position event for every
ping. A paced client posts single pings whose fix time is the moment of sending; an officer's
WebSocket measures, for each `position` message, how long after that moment it arrived.
`--code-dir DIR` runs the servers from another checkout, as in `ingest_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import websockets

from benchmarks.ingest_bench import bench_cluster, run_wrk, write_devices
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


async def probe(base_url: str, device: tuple[str, str], duration: float, rate: float) -> int:
    """A few pings per second from one device; their fix time is the moment they are sent."""
    sent = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        began = time.monotonic()
        while time.monotonic() - began < duration:
            body = {"ts": int(time.time() * 1000), "lat": 22.55, "lon": 114.05, "accuracy_m": 10}
            reply = await client.post(
                "/v1/pings", json=body, headers={"Authorization": f"Bearer {device[1]}"}
            )
            sent += reply.status_code == 202
            await asyncio.sleep(1 / rate)
    return sent


@dataclass(frozen=True)
class Seen:
    """One probe position: when it was sent (its fix time), when the evaluator's transaction
    that wrote its event began (the event's created_at), and when the officer got it."""

    fix: float
    evaluated: float
    arrived: float


async def listen(ws_url: str, person_id: int, seen: list[Seen], stop: asyncio.Event) -> None:
    async with websockets.connect(ws_url, max_queue=None) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            arrived = time.time()
            message = json.loads(raw)
            if message.get("type") == "position" and message.get("person_id") == person_id:
                fix = datetime.fromisoformat(message["ts"]).timestamp()
                evaluated = datetime.fromisoformat(message["created_at"]).timestamp()
                seen.append(Seen(fix, evaluated, arrived))


async def main(args: argparse.Namespace) -> None:
    extra = {"MONITOR_POSITION_INTERVAL_S": "0", "MONITOR_WS_QUEUE_MAX": "100000"}
    async with bench_cluster(
        devices=args.devices, extra_env=extra, code_dir=args.code_dir
    ) as cluster:
        token = await officer_token(cluster.database_url, cluster.url)
        probe_device, load_devices = cluster.devices[0], cluster.devices[1:]
        devices_file = write_devices(cluster.work / "devices.txt", load_devices)
        person_id = await person_of(cluster.database_url, probe_device[0])
        seen: list[Seen] = []
        stop = asyncio.Event()
        ws_url = cluster.url.replace("http://", "ws://") + f"/v1/stream?token={token}"
        listener = asyncio.create_task(listen(ws_url, person_id, seen, stop))
        await asyncio.sleep(1)
        load = asyncio.create_task(
            asyncio.to_thread(
                run_wrk, cluster.url, "native", devices_file, int(args.duration), args.connections
            )
        )
        sent = await probe(cluster.url, probe_device, args.duration - 1, args.probe_rate)
        loaded = await load
        await asyncio.sleep(2)
        stop.set()
        await listener
        received = await received_at(cluster.database_url, person_id)
        report(args, loaded["rps"], sent, seen, received)


async def person_of(database_url: str, device_id: str) -> int:
    conn = await asyncpg.connect(database_url)
    person_id: int = await conn.fetchval("SELECT person_id FROM devices WHERE id = $1", device_id)
    await conn.close()
    return person_id


async def received_at(database_url: str, person_id: int) -> dict[int, float]:
    """Fix time → when ingest's group commit began the transaction that stored it."""
    conn = await asyncpg.connect(database_url)
    rows = await conn.fetch("SELECT ts, received_at FROM pings WHERE person_id = $1", person_id)
    await conn.close()
    return {round(r["ts"].timestamp() * 1000): r["received_at"].timestamp() for r in rows}


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


def report(
    args: argparse.Namespace,
    load_rps: float,
    sent: int,
    seen: list[Seen],
    received: dict[int, float],
) -> None:
    if not seen:
        sys.exit("no position events arrived")
    latencies = [(s.arrived - s.fix) * 1000 for s in seen]
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"\n`python -m benchmarks.ws_latency --connections {args.connections} "
        f"--duration {args.duration:g} --devices {args.devices}`\n"
    )
    print("| background load req/s | probe pings | positions seen | p50 ms | p99 ms | max ms |")
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
        stored = received.get(round(s.fix * 1000))
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
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (load)")
    parser.add_argument("--probe-rate", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--code-dir", type=Path, default=None, help="serve from this checkout")
    asyncio.run(main(parser.parse_args()))
