"""The backstop behind the input bounds: what PostgreSQL refuses answers 4xx, never 500.

The errors are real ones from the session's PostgreSQL; the handlers get them as the app
would hand them over (the routes' own bounds leave no HTTP request that reaches them)."""

from __future__ import annotations

import secrets

import asyncpg
import orjson
import pytest
from starlette.requests import Request

from monitor.error_responses import ErrorOut, conflicting, unstorable


def request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []})


async def test_a_value_postgresql_cannot_take_is_a_422(pool: asyncpg.Pool) -> None:
    for query, value in [("SELECT $1::bigint", 2**64), ("SELECT $1::text", "a\x00b")]:
        with pytest.raises(asyncpg.DataError) as refused:
            await pool.fetchval(query, value)
        reply = await unstorable(request(), refused.value)
        assert reply is not None and reply.status_code == 422
        detail = ErrorOut.model_validate(orjson.loads(reply.body)).detail
        assert isinstance(detail, str) and detail.startswith("a value cannot be stored: ")


async def test_a_constraint_postgresql_enforces_is_a_409(pool: asyncpg.Pool) -> None:
    code = f"dup-{secrets.token_hex(4)}"
    insert = "INSERT INTO jurisdictions (name, level, code) VALUES ('x', 'city', $1)"
    await pool.execute(insert, code)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await pool.execute(insert, code)
    reply = await conflicting(request(), refused.value)
    assert reply is not None and reply.status_code == 409
    assert "jurisdictions_code_key" in str(ErrorOut.model_validate(orjson.loads(reply.body)))
