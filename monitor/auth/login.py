"""Checking a login: one Argon2 verification whether or not the username exists."""

from __future__ import annotations

import asyncio

import asyncpg

from monitor.auth import security, store
from monitor.auth.models import Officer

# no account has a longer name (POST /v1/officers allows 100); PostgreSQL refuses NUL in text
MAX_USERNAME = 256


def is_possible_username(username: str) -> bool:
    return len(username) <= MAX_USERNAME and "\x00" not in username


async def authenticate(pool: asyncpg.Pool, *, username: str, password: str) -> Officer | None:
    """The officer, or None for a wrong password, an unknown username or a disabled account,
    all three answered after the same work so that timing tells none of them apart."""
    found = None
    if is_possible_username(username):
        async with pool.acquire() as conn:
            found = await store.get_login(conn, username=username)
    password_hash = None if found is None else found[1]
    # Argon2 holds a core for tens of ms: in a thread, so sockets and pings go on meanwhile
    ok = await asyncio.to_thread(security.verify_password_or_dummy, password_hash, password)
    return found[0] if ok and found is not None else None
