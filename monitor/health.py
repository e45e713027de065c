"""Health endpoints: /healthz (process up), /readyz (PostgreSQL and Redis reachable, and
ingest able to commit on the connections it keeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from monitor.deps import Ctx

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ctx: Ctx) -> JSONResponse:
    checks = {
        "database": await _check(_ping_db(ctx)),
        "redis": await _check(_ping_redis(ctx)),
        "ingest": await _check(ctx.ingestor.committer.check()),
    }
    ready = all(v == "ok" for v in checks.values())
    headers = {} if ready else {"Retry-After": str(ctx.settings.retry_after_s)}
    return JSONResponse(
        {"ready": ready, **checks}, status_code=200 if ready else 503, headers=headers
    )


async def _check(probe: Coroutine[Any, Any, None]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _ping_db(ctx: Ctx) -> None:
    async with ctx.pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
        await conn.fetchval("SELECT 1")


async def _ping_redis(ctx: Ctx) -> None:
    await ctx.redis.ping()
