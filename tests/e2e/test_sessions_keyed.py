"""Officer sessions are stored as HMAC-SHA256 under MONITOR_SECRET_KEY (issue 18, item 9)."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg
import httpx

from tests.e2e.conftest import Live, Officer, running, settings_for


async def stored_session(pool: asyncpg.Pool, token_hash: bytes) -> bool:
    async with pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT 1 FROM officer_sessions WHERE token_hash = $1", token_hash
        )
    return found is not None


async def test_a_session_is_stored_under_the_servers_key(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    token = officer.token.encode()
    key = live.settings.secret_key.encode()
    assert await stored_session(pool, hmac.new(key, token, hashlib.sha256).digest())
    # neither the plain hash (what a copied table could be matched with) nor another key's
    assert not await stored_session(pool, hashlib.sha256(token).digest())
    assert not await stored_session(pool, hmac.new(b"other", token, hashlib.sha256).digest())


async def test_a_new_key_ends_every_session(
    live: Live, officer: Officer, database_url: str, redis_url: str
) -> None:
    settings = settings_for(database_url, redis_url).model_copy(
        update={"secret_key": "a-different-key", "run_workers": False}
    )
    me = {"Authorization": f"Bearer {officer.token}"}
    async with running(settings) as rekeyed, httpx.AsyncClient() as client:
        assert (await client.get(f"{live.base_url}/v1/auth/me", headers=me)).status_code == 200
        reply = await client.get(f"{rekeyed.base_url}/v1/auth/me", headers=me)
        assert reply.status_code == 401, reply.text
        # the officer simply logs in again under the new key
        form = {"username": officer.username, "password": officer.password}
        login = await client.post(f"{rekeyed.base_url}/v1/auth/token", data=form)
        fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await client.get(f"{rekeyed.base_url}/v1/auth/me", headers=fresh)).is_success
