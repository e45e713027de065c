"""A live server on a free port, in the test's own event loop, against the session's servers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from asyncpg.pool import PoolConnectionProxy
from starlette.types import ASGIApp

from monitor.app import create_app
from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.settings import Settings
from tests.conftest import free_port


@dataclass(frozen=True)
class Live:
    base_url: str
    ws_url: str
    settings: Settings


@contextlib.asynccontextmanager
async def running(
    settings: Settings, *, app: ASGIApp | None = None, **options: Any
) -> AsyncIterator[Live]:
    """The app (create_app's, unless given) served by uvicorn on settings.port, in this event
    loop; `options` go to uvicorn.Config."""
    config = uvicorn.Config(
        app or create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        **{"log_level": "warning", **options},
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{settings.port}", f"ws://127.0.0.1:{settings.port}", settings)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def settings_for(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        port=free_port(),
        stream_partitions=4,
        evaluator_block_ms=200,
        device_cache_s=0.2,
        hub_poll_s=0.5,
        relay_interval_s=0.5,
        ws_heartbeat_s=5.0,
        # the notifier's rounds are driven by the tests that check them (tests/monitor/notify/
        # test_notify.py), never raced by the session server's own loops
        notify_interval_s=3600.0,
        # the tests' webhook receivers listen on loopback, which a webhook may not reach unless
        # allowed (monitor.notify.egress)
        webhook_allowed_networks="127.0.0.0/8",
        # anchors of this session's database only, never a developer's monitor-data/
        audit_anchor_file=Path(tempfile.gettempdir()) / f"audit-anchors-{uuid.uuid4().hex}.jsonl",
    )


@pytest.fixture(scope="session")
async def live(database_url: str, redis_url: str) -> AsyncIterator[Live]:
    async with running(settings_for(database_url, redis_url)) as server:
        yield server


@dataclass(frozen=True)
class Officer:
    username: str
    password: str
    jurisdiction_id: int
    token: str


async def make_admin(
    conn: asyncpg.Connection | PoolConnectionProxy, jurisdiction_id: int, username: str
) -> str:
    """An admin account of the jurisdiction, made straight in the database; its password."""
    password = secrets.token_urlsafe(12)
    await auth_store.insert_officer(
        conn,
        username=username,
        password_hash=security.hash_password(password),
        display_name=f"test admin {username}",
        role=Role.ADMIN,
        jurisdiction_id=jurisdiction_id,
    )
    return password


async def log_in(base_url: str, username: str, password: str) -> str:
    """A session token, through POST /v1/auth/token as any client gets one."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        reply = await client.post(
            "/v1/auth/token", data={"username": username, "password": password}
        )
        reply.raise_for_status()
        token: str = reply.json()["access_token"]
        return token


@pytest.fixture
async def officer(live: Live, pool: asyncpg.Pool) -> Officer:
    """A fresh city with an admin officer, logged in over HTTP."""
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"city-{suffix}", level="city")
        )
        password = await make_admin(conn, city.id, f"admin-{suffix}")
    token = await log_in(live.base_url, f"admin-{suffix}", password)
    return Officer(f"admin-{suffix}", password, city.id, token)
