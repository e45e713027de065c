"""App factory: create_app(settings) wires every package; the lifespan owns connections, loops."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import make_asgi_app
from starlette.types import ASGIApp

from alerts import followup_routes, ws
from alerts import routes as alert_routes
from alerts.errors import AlertsError
from alerts.hub import Hub
from alerts.outbox import relay
from alerts.runtime import AlertsRuntime
from alerts.timers import TimerConfig, run_timers
from evaluator.consumer import StreamConsumer, worker_name
from evaluator.engine import Evaluator, EvaluatorConfig
from evaluator.partitions import PartitionOwner
from geofence.separation import SeparationConfig
from ingest import phone_app_routes
from ingest import routes as ingest_routes
from ingest.device_fast_path import PingsFastPath, in_front_of
from ingest.engine import IngestConfig, Ingestor
from ingest.errors import DATABASE_UNAVAILABLE as DB_DOWN
from ingest.errors import IngestError
from monitor import console_config, db, health
from monitor.audit import routes as audit_routes
from monitor.audit.anchors import run_anchoring
from monitor.auth import routes as auth_routes
from monitor.context import AppContext
from monitor.deps import officer_from_token
from monitor.docs import add_docs
from monitor.error_responses import DEVICE_ERRORS, OFFICER_ERRORS, add_bound_handlers
from monitor.errors import MonitorError, TooManyRequestsError
from monitor.headers import SecurityHeaders
from monitor.maintenance import run_maintenance
from monitor.notify import routes as notify_routes
from monitor.notify import shift_routes
from monitor.notify.engine import NotifyConfig, run_dispatcher, run_sender
from monitor.redact import install_log_redaction
from monitor.registry import casework, device_routes, fence_edits, roster_routes, rule_routes
from monitor.registry import routes as registry_routes
from monitor.reports import routes as report_routes
from monitor.settings import Settings
from monitor.supervisor import Supervisor
from pings.streams import connect

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready: the body names the check that failed"}
}
OFFICER_APIS = (
    auth_routes.router,
    auth_routes.officers,
    registry_routes.router,
    roster_routes.router,  # the persons and devices lists
    casework.router,
    fence_edits.router,
    device_routes.router,
    rule_routes.router,
    alert_routes.router,
    followup_routes.router,  # assignment and follow-up notes
    audit_routes.router,
    report_routes.router,
    notify_routes.router,
    shift_routes.router,
)


def create_app(settings: Settings) -> FastAPI:
    install_log_redaction()  # here, so every launcher of uvicorn gets it, in every process
    app = FastAPI(
        title="Electronic-fence monitor",
        version="0.1.0",
        lifespan=lifespan(settings),
        docs_url=None,  # served from this process by add_docs, not from a CDN
        redoc_url=None,
    )
    add_docs(app)
    app.include_router(health.router, responses=NOT_READY)
    app.include_router(ws.router)
    for officer_api in OFFICER_APIS:
        app.include_router(officer_api, responses=OFFICER_ERRORS)
    for device_api in (ingest_routes.router, phone_app_routes.router):
        app.include_router(device_api, responses=DEVICE_ERRORS)
    app.mount("/metrics", make_asgi_app())
    # added first, so it runs inside PingsFastPath: device answers never pass through it
    app.add_middleware(SecurityHeaders, tile_origin=settings.tile_origin)
    app.add_middleware(PingsFastPath)  # every device's hot path skips FastAPI's routing
    app.include_router(console_config.router(settings))  # before the mount, which would 404 it
    console = resources.files("monitor") / "static"
    app.mount("/console", StaticFiles(directory=str(console), html=True), name="console")
    app.add_api_route("/", lambda: RedirectResponse("/console/"), include_in_schema=False)
    add_error_handlers(app, settings)
    return app


def app_from_environment() -> ASGIApp:
    """For process managers that import the app: settings come from the environment; the
    device routes are answered in front of the app's middleware, as `monitor serve` does."""
    return in_front_of(create_app(Settings()))


def lifespan(settings: Settings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        ctx = await open_context(settings)
        app.state.ctx = ctx
        app.state.alerts = AlertsRuntime(
            pool=ctx.pool,
            redis=ctx.redis,
            hub=ctx.hub,
            authenticate=lambda token: officer_from_token(ctx, token),
            heartbeat_s=settings.ws_heartbeat_s,
        )
        supervisor = start_loops(ctx)
        # what startup made lives as long as the process: keep it out of every full
        # collection, which otherwise walks it all
        # (docs/decisions/0026-fleet-caches-and-the-collector.md)
        gc.freeze()
        try:
            yield
        finally:
            await supervisor.stop()
            await close_context(ctx)

    return run


async def open_context(settings: Settings) -> AppContext:
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("DATABASE_URL and REDIS_URL must be set (or use `monitor up`)")
    pool = await db.create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    redis = connect(settings.redis_url)
    ingestor = Ingestor(
        pool,
        redis,
        IngestConfig(
            partitions=settings.stream_partitions,
            stream_maxlen=settings.stream_maxlen,
            clock_skew_s=settings.clock_skew_s,
            retention_days=settings.retention_days,
            max_pings_per_request=settings.max_pings_per_request,
            max_inflight_requests=settings.max_inflight_requests,
            retry_after_s=settings.retry_after_s,
            max_body_bytes=settings.max_body_bytes,
            body_read_timeout_s=settings.body_read_timeout_s,
            unknown_accuracy_m=settings.unknown_accuracy_m,
            device_cache_s=settings.device_cache_s,
        ),
    )
    hub = Hub(pool, redis, poll_s=settings.hub_poll_s, queue_max=settings.ws_queue_max)
    return AppContext(settings, pool, redis, ingestor, hub)


async def close_context(ctx: AppContext) -> None:
    await ctx.redis.aclose()
    try:
        await asyncio.wait_for(ctx.pool.close(), CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("database connections still busy after %.0f s; terminating", CLOSE_TIMEOUT_S)
        ctx.pool.terminate()


def start_loops(ctx: AppContext) -> Supervisor:
    supervisor = Supervisor()
    supervisor.start("group-commit", ctx.ingestor.committer.run)
    supervisor.start("ingest-changes", ctx.ingestor.watch_changes)
    supervisor.start("hub", ctx.hub.run)
    if ctx.settings.run_workers:
        start_workers(supervisor, ctx)
    return supervisor


def start_workers(supervisor: Supervisor, ctx: AppContext) -> None:
    s = ctx.settings
    evaluator = Evaluator(
        ctx.pool,
        EvaluatorConfig(
            position_interval_s=s.position_interval_s,
            gather_s=s.evaluator_gather_ms / 1000,
            separation=SeparationConfig(distance_m=s.separation_m, pair_s=s.separation_pair_s),
        ),
    )

    consumer = StreamConsumer(
        ctx.redis,
        ctx.pool,
        evaluator,
        partitions=s.stream_partitions,
        batch=s.evaluator_batch,
        block_ms=s.evaluator_block_ms,
    )
    owner = PartitionOwner(
        ctx.redis,
        partitions=s.stream_partitions,
        owner=worker_name(),
        run_partition=consumer.run_partition,
        ttl_ms=s.lease_ttl_ms,
    )
    supervisor.start("stream-read", consumer.run)
    supervisor.start("partitions", owner.run)
    supervisor.start("relay", lambda: relay(ctx.redis, ctx.pool, interval_s=s.relay_interval_s))
    timers = TimerConfig(
        interval_s=s.timer_interval_s,
        order_notice=timedelta(days=s.order_notice_days),
        escalation_top=s.escalation_top,
    )
    supervisor.start("timers", lambda: run_timers(ctx.pool, ctx.redis, timers))
    notify = notify_config(s)
    supervisor.start("notify-dispatch", lambda: run_dispatcher(ctx.pool, notify))
    supervisor.start("notify-send", lambda: run_sender(ctx.pool, notify))
    supervisor.start(
        "audit-anchors",
        lambda: run_anchoring(
            ctx.pool, ctx.redis, s.anchor_file, interval_s=s.audit_anchor_interval_s
        ),
    )
    supervisor.start(
        "maintenance",
        lambda: run_maintenance(
            ctx.pool,
            retention_days=s.retention_days,
            position_events_keep=timedelta(hours=s.position_events_keep_h),
            interval_s=s.maintenance_interval_s,
        ),
    )


def notify_config(s: Settings) -> NotifyConfig:
    return NotifyConfig(
        interval_s=s.notify_interval_s,
        timeout_s=s.notify_timeout_s,
        max_attempts=s.notify_max_attempts,
        backoff_first_s=s.notify_backoff_s,
        backoff_cap_s=s.notify_backoff_max_s,
        allowed_networks=s.webhook_networks,
    )


def add_error_handlers(app: FastAPI, settings: Settings) -> None:
    add_bound_handlers(app)
    retry = {"Retry-After": str(settings.retry_after_s)}

    @app.exception_handler(MonitorError)
    @app.exception_handler(AlertsError)  # the same answer: a client cannot tell the packages
    async def monitor_error(request: Request, exc: MonitorError | AlertsError) -> JSONResponse:
        body = {"detail": exc.message, **({"field": exc.field} if exc.field else {})}
        headers = retry if exc.status_code == 503 else None
        if isinstance(exc, TooManyRequestsError):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(IngestError)
    async def ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        headers = exc.headers()  # Retry-After; Connection: close when the body may be unread
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)

    for kind in DB_DOWN:

        @app.exception_handler(kind)
        async def database_down(request: Request, exc: Exception) -> JSONResponse:
            log.warning("database unavailable: %r", exc)
            return JSONResponse(
                {"detail": "database unavailable; retry later"}, status_code=503, headers=retry
            )
