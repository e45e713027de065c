"""What each CLI role runs: the embedded servers, migrations, uvicorn, workers, the demo fleet."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import prometheus_client
import uvicorn

from ingest.device_fast_path import in_front_of
from ingest.single_write_http import OneWriteProtocol
from monitor import db, demo
from monitor.app import close_context, create_app, open_context, start_workers
from monitor.embedded import EmbeddedServices
from monitor.settings import Settings
from monitor.supervisor import Supervisor
from simulators.fleet import Fleet

log = logging.getLogger(__name__)


def _terminate(signum: int, frame: Any) -> None:
    # uvicorn re-raises the signal it caught after a graceful shutdown: turn it into an
    # exception so `finally` blocks (embedded servers) still run
    raise KeyboardInterrupt


async def run_migrate(settings: Settings) -> list[str]:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await db.migrate(conn)
    finally:
        await conn.close()


async def run_up(settings: Settings, *, demo: bool, demo_persons: int) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not settings.database_url or not settings.redis_url:
        embedded = EmbeddedServices(settings.data_dir.resolve())
        urls = await asyncio.to_thread(embedded.start)
        settings = settings.model_copy(
            update={"database_url": urls.database_url, "redis_url": urls.redis_url}
        )
    try:
        await run_migrate(settings)
        credentials = await load_demo(settings, demo_persons) if demo else None
        await serve_http(settings, credentials)
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def load_demo(settings: Settings, persons: int) -> dict[str, Any]:
    assert settings.database_url
    conn = await db.connect(settings.database_url)
    try:
        return await demo.ensure_demo(conn, settings.data_dir, persons=persons)
    finally:
        await conn.close()


async def serve_http(settings: Settings, credentials: dict[str, Any] | None = None) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            in_front_of(create_app(settings)),  # device routes before the app's middleware
            host=settings.host,
            port=settings.port,
            ws_ping_interval=settings.ws_heartbeat_s,
            log_level="info",
            access_log=False,
            http=OneWriteProtocol,  # each answer in one socket write, not two
            proxy_headers=False,  # applied behind the device routes (in_front_of)
        )
    )
    signal.signal(signal.SIGTERM, _terminate)
    banner = asyncio.create_task(announce(server, settings, credentials))
    try:
        await server.serve()
    finally:
        banner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await banner


async def announce(
    server: uvicorn.Server, settings: Settings, credentials: dict[str, Any] | None
) -> None:
    """Once the server listens: print the console URL and login, then drive the demo fleet."""
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    base = f"http://{settings.host}:{settings.port}"
    print(f"\n  Console: {base}/console/\n  API docs: {base}/docs", flush=True)
    if credentials is None:
        print("  Log in with an officer made by `monitor create-officer`.\n", flush=True)
        return
    officer = credentials["officer"]
    path = settings.data_dir / "demo-credentials.json"
    print(
        f"  Demo login: {officer['username']} / {officer['password']}  (also in {path})\n",
        flush=True,
    )
    # httpx logs every request at INFO: the fleet's pings (40 a second) would scroll the
    # banner away. Its warnings, and everything the server logs, still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    fleet = Fleet(base, demo.sim_devices(credentials), interval_s=5.0)
    await fleet.run()


async def run_serve(settings: Settings) -> None:
    await serve_http(settings)


def serve_processes(settings: Settings, workers: int) -> None:
    """Several HTTP processes on one port (uvicorn's supervisor); each is stateless."""
    os.environ.update(
        {
            "MONITOR_RUN_WORKERS": "false",
            "MONITOR_HOST": settings.host,
            "MONITOR_PORT": str(settings.port),
        }
    )
    uvicorn.run(
        "monitor.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http="ingest.single_write_http:OneWriteProtocol",
        proxy_headers=False,  # applied behind the device routes (in_front_of)
        log_level="info",
        access_log=False,
        ws_ping_interval=settings.ws_heartbeat_s,
    )


async def run_worker(settings: Settings) -> None:
    ctx = await open_context(settings)
    supervisor = Supervisor()
    start_workers(supervisor, ctx)
    metrics_server = None
    if settings.worker_metrics_port is not None:
        metrics_server, _ = prometheus_client.start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host
        )
    # what startup made lives as long as the process: keep it out of every full collection,
    # which would otherwise walk it all again (as `serve` does)
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker running %d partitions", settings.stream_partitions)
    try:
        await stop.wait()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        await supervisor.stop()
        await close_context(ctx)


async def run_simulate(
    url: str, credentials: Path, interval: float, duration: float | None
) -> tuple[int, int]:
    data = json.loads(await asyncio.to_thread(credentials.read_text, encoding="utf-8"))
    fleet = Fleet(url, demo.sim_devices(data), interval_s=interval)
    await fleet.run(duration_s=duration)
    return fleet.sent, fleet.failed
