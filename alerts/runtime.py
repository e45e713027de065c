"""What the alert routes need from the running app; monitor fills it in, alerts never imports it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from starlette.requests import HTTPConnection

from alerts.hub import Hub
from alerts.models import Viewer


@dataclass(frozen=True)
class AlertsRuntime:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    hub: Hub
    # bearer token -> the officer; raises the app's auth error when it is not valid
    authenticate: Callable[[str | None], Awaitable[Viewer]]
    heartbeat_s: float


def runtime_of(conn: HTTPConnection) -> AlertsRuntime:
    runtime: AlertsRuntime = conn.app.state.alerts
    return runtime
