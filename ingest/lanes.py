"""A group-commit lane: the connection one flush at a time stores its pings on.

A lane keeps its connection between flushes, so it must notice when the server has closed it
(a PostgreSQL restart): asyncpg then detaches the pooled proxy, and every method of a detached
proxy raises instead of answering.
"""

from __future__ import annotations

import contextlib

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ingest import store
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from pings.batch import PingBatch

ACQUIRE_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 2.0
CHECK_ERRORS: tuple[type[Exception], ...] = (*DB_ERRORS, asyncpg.PostgresError)


def is_open(conn: PoolConnectionProxy) -> bool:
    """False once the connection is gone, whether asyncpg has noticed (closed) or has already
    handed it back to the pool (detached)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


class Lane:
    """One flush at a time on a connection kept between flushes: acquiring and resetting one
    per flush costs a round trip and shows in the single-ping profile."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.conn: PoolConnectionProxy | None = None

    async def insert(self, batch: PingBatch, ids: store.PingIds) -> dict[int, int]:
        conn = await self._connection(ACQUIRE_TIMEOUT_S)
        try:
            first_id = await ids.take(conn, len(batch))
            return await store.store_pings(conn, batch=batch, first_id=first_id)
        except DB_ERRORS:
            await self.release()
            raise
        except asyncpg.PostgresError as exc:
            if is_open(conn):
                raise  # the data was refused, not the connection
            await self.release()  # e.g. the server shutting down: 503, not 422
            raise ConnectionResetError("database connection lost") from exc

    async def check(self) -> None:
        """Raise unless this lane's connection answers now (a dead one is replaced first)."""
        conn = await self._connection(CHECK_TIMEOUT_S)
        try:
            await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_S)
        except CHECK_ERRORS:
            await self.release()
            raise

    async def _connection(self, timeout_s: float) -> PoolConnectionProxy:
        if self.conn is not None and not is_open(self.conn):
            await self.release()
        if self.conn is None:
            self.conn = await self.pool.acquire(timeout=timeout_s)
        return self.conn

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(*DB_ERRORS):
                await self.pool.release(conn, timeout=ACQUIRE_TIMEOUT_S)
