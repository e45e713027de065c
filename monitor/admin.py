"""Admin commands of the CLI, straight against the database (for bootstrap and operators)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg

from monitor import db
from monitor.audit import anchors
from monitor.audit.verify import Verdict, verify
from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role
from monitor.errors import BadRequestError
from monitor.registry import schemas
from monitor.registry import store as registry_store
from monitor.registry.geometry import to_fence_geometry
from monitor.settings import Settings
from pings.streams import connect as connect_redis


async def connect(settings: Settings) -> asyncpg.Connection:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")
    return await db.connect(settings.database_url)


async def create_jurisdiction(
    settings: Settings, name: str, level: str, parent_id: int | None
) -> dict[str, Any]:
    data = schemas.JurisdictionIn.model_validate(
        {"name": name, "level": level, "parent_id": parent_id}
    )
    conn = await connect(settings)
    try:
        return (await registry_store.insert_jurisdiction(conn, data=data)).model_dump()
    except BadRequestError as exc:
        raise SystemExit(exc.message) from None
    finally:
        await conn.close()


async def create_officer(
    settings: Settings, username: str, password: str, role: str, jurisdiction_id: int
) -> int:
    if len(password) < 8:
        raise SystemExit("password: use at least 8 characters")
    conn = await connect(settings)
    try:
        return await auth_store.insert_officer(
            conn,
            username=username,
            password_hash=security.hash_password(password),
            display_name=username,
            role=Role(role),
            jurisdiction_id=jurisdiction_id,
        )
    finally:
        await conn.close()


async def enroll_device(
    settings: Settings, person_id: int, kind: str, device_id: str | None
) -> dict[str, Any]:
    token = security.new_token()
    device_id = device_id or f"dev-{security.new_token()[:12]}"
    data = schemas.DeviceIn.model_validate({"person_id": person_id, "kind": kind})
    conn = await connect(settings)
    try:
        await registry_store.insert_device(
            conn, device_id=device_id, data=data, token_hash=security.hash_token(token)
        )
    finally:
        await conn.close()
    return {"device_id": device_id, "token": token}


async def import_fence(
    settings: Settings, path: Path, name: str, role: str, crs: str, jurisdiction_id: int | None
) -> dict[str, Any]:
    geojson = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    geometry, warnings = to_fence_geometry(geojson, crs)
    data = schemas.FenceIn.model_validate(
        {
            "name": name,
            "role": role,
            "crs": crs,
            "geometry": geometry,
            "jurisdiction_id": jurisdiction_id,
        }
    )
    conn = await connect(settings)
    try:
        row = await registry_store.insert_fence(conn, data=data)
    finally:
        await conn.close()
    return {"id": row["id"], "name": name, "warnings": warnings}


async def verify_audit(settings: Settings) -> Verdict:
    """Anchors from the file and, when REDIS_URL is set, the Redis stream."""
    redis = connect_redis(settings.redis_url) if settings.redis_url else None
    try:
        found = await anchors.read_all(settings.anchor_file, redis)
    except anchors.AnchorFileError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        if redis is not None:
            await redis.aclose()
    conn = await connect(settings)
    try:
        return await verify(conn, found)
    finally:
        await conn.close()
