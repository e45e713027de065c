"""The embedded PostgreSQL and Redis of `monitor up`: real servers, data reused across starts."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from monitor.embedded import EmbeddedServices

pytestmark = pytest.mark.slow


async def test_start_use_stop_and_reuse(tmp_path: Path) -> None:
    services = EmbeddedServices(tmp_path / "data")
    urls = services.start()
    try:
        conn = await asyncpg.connect(urls.database_url)
        assert (await conn.fetchval("SHOW server_version")).startswith("18")
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        await conn.close()
        client = aioredis.from_url(urls.redis_url)
        await client.xadd("kept", {"n": "7"})
        await client.aclose()
    finally:
        services.stop()
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()

    restarted = EmbeddedServices(tmp_path / "data")
    again = restarted.start()
    try:
        conn = await asyncpg.connect(again.database_url)
        assert await conn.fetchval("SELECT n FROM kept") == 7
        await conn.close()
        client = aioredis.from_url(again.redis_url)
        entries = await client.xrange("kept")
        assert entries is not None and len(entries) == 1, "Redis keeps its AOF in the data dir"
        await client.aclose()
    finally:
        restarted.stop()


async def test_restarts_after_the_postmaster_was_killed(tmp_path: Path) -> None:
    services = EmbeddedServices(tmp_path / "data")
    services.start()
    pid = int((tmp_path / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.1)
    services.stop()
    restarted = EmbeddedServices(tmp_path / "data")
    urls = restarted.start()
    try:
        conn = await asyncpg.connect(urls.database_url)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    finally:
        restarted.stop()
