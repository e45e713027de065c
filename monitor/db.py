"""PostgreSQL pool and forward-only migrations (numbered SQL files under migrations/)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from importlib import resources

import asyncpg

from pings.pg import Conn

log = logging.getLogger(__name__)

MIGRATION_LOCK = 7268001

CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
APPLIED = "SELECT version FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
ENSURE_PARTITIONS = "SELECT ensure_ping_partitions($1, $2)"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migrations/NNNN_name.sql, in order."""
    found = []
    for entry in resources.files("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: Conn) -> list[str]:
    """Apply pending migrations under an advisory lock, each in its own transaction."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(CREATE_MIGRATIONS)
        applied = {row["version"] for row in await conn.fetch(APPLIED)}
        done = []
        for version, name, sql in migration_files():
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(RECORD, version, name)
            log.info("applied migration %s", name)
            done.append(name)
        await ensure_partitions(conn, today=datetime.now(UTC).date())
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def ensure_partitions(
    conn: Conn, *, today: date, back_days: int = 2, ahead_days: int = 7
) -> int:
    made: int = await conn.fetchval(
        ENSURE_PARTITIONS, today - timedelta(days=back_days), today + timedelta(days=ahead_days)
    )
    return made


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=keep_session
    )
    assert pool is not None
    return pool


async def keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's `RESET ALL; UNLISTEN *; ...` (a round trip and
    PostgreSQL CPU per release): nothing pooled uses LISTEN, SET, session advisory locks or
    held cursors, except the maintenance round's lock, which it releases itself
    (monitor/maintenance.py). asyncpg still rolls back a transaction left open before calling
    this. Anything that starts using session state must undo it itself or take its own
    connection."""


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool's."""
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


async def init_connection(conn: Conn) -> None:
    import orjson

    # binary: COPY (ingest.store.copy_pings) has no text encoders; jsonb's binary form is a
    # version byte, 1, and the text
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "json",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
