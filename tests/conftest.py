"""Real servers for the whole suite: a fresh PostgreSQL database and a flushed Redis db per
session. The machine's servers are used when reachable; otherwise embedded ones are started."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

from monitor import db

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ADMIN_DSN = os.environ.get(
    "MONITOR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE = os.environ.get("MONITOR_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(admin PostgreSQL DSN, Redis base URL): the machine's, or embedded ones."""
    if reachable(ADMIN_DSN, 5432) and reachable(REDIS_BASE, 6379):
        yield ADMIN_DSN, REDIS_BASE
        return
    from monitor.embedded import EmbeddedServices

    services = EmbeddedServices(tmp_path_factory.mktemp("embedded"), database="postgres")
    urls = services.start()
    try:
        yield urls.database_url, urls.redis_url.rsplit("/", 1)[0]
    finally:
        services.stop()


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    """A new, migrated database's URL, dropped afterwards."""
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_dsn, name)
    conn = await asyncpg.connect(url)
    await db.migrate(conn)
    await conn.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A fresh, migrated database for this session, dropped afterwards."""
    async with fresh_database(server_urls[0]) as url:
        yield url


CLAIM_TTL_S = 4 * 3600  # a claim outlives any session; a crashed one's lapses by itself
claimed: dict[tuple[str, int], int] = {}  # (Redis base URL, offset) → the db this session holds


def redis_db(redis_base: str, offset: int) -> str:
    """A Redis db of this session's own: offset 0 is the session's (`redis_url`), where the
    session's live server runs; a test whose own workers or streams must not meet that
    server's picks another offset. Each db is claimed in db 0 (SET NX), so test sessions
    running side by side never flush each other's streams."""
    key = (redis_base, offset)
    if key not in claimed:
        claimed[key] = claim_db(redis_base)
    return f"{redis_base}/{claimed[key]}"


def claim_db(redis_base: str) -> int:
    token = f"{socket.gethostname()}:{os.getpid()}"
    with redis.Redis.from_url(f"{redis_base}/0") as client:
        for db_index in range(1, 16):
            if client.set(f"monitor-test:db:{db_index}", token, nx=True, ex=CLAIM_TTL_S):
                return db_index
    raise RuntimeError(f"all 15 Redis dbs of {redis_base} are claimed by other test sessions")


def release_claims() -> None:
    token = f"{socket.gethostname()}:{os.getpid()}".encode()
    for (redis_base, _), db_index in list(claimed.items()):
        with (
            contextlib.suppress(redis.RedisError),
            redis.Redis.from_url(f"{redis_base}/0") as client,
        ):
            if client.get(f"monitor-test:db:{db_index}") == token:
                client.delete(f"monitor-test:db:{db_index}")
    claimed.clear()


def pytest_sessionfinish() -> None:
    release_claims()


@contextlib.asynccontextmanager
async def flushed(url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of this Redis db, emptied before and after."""
    client = aioredis.from_url(url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture(scope="session")
async def redis_url(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A Redis db of its own (by process id), flushed before and after."""
    url = redis_db(server_urls[1], 0)
    async with flushed(url):
        yield url


@contextlib.asynccontextmanager
async def db_pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await db.create_pool(url, min_size=1, max_size=5)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with db_pool(database_url) as created:
        yield created


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shared_data(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (clone with shared/ beside the repo)")
    return path
