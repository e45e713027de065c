"""Devices: enrol (token shown once), list, rotate the token, revoke. Within the officer's reach."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Path, status

from alerts import store as alert_store
from alerts.bounds import DbId, Text
from monitor.auth import security
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import ConflictError, NotFoundError
from monitor.registry import schemas, store
from monitor.registry.routes import person_in_reach, supervised_in_reach
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["registry"])

DeviceId = Annotated[Text, Path(max_length=100)]


@router.post("/devices", status_code=status.HTTP_201_CREATED)
async def enroll_device(ctx: Ctx, officer: Writer, data: schemas.DeviceIn) -> schemas.DeviceOut:
    device_id = data.device_id or f"dev-{security.new_token()[:12]}"
    token = None if data.identifier_only else security.new_token()
    token_hash = None if token is None else security.hash_token(token)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await supervised_in_reach(conn, officer, data.person_id)
        try:
            created_at = await store.insert_device(
                conn, device_id=device_id, data=data, token_hash=token_hash
            )
        except asyncpg.UniqueViolationError:
            raise ConflictError(
                f"device_id: {device_id!r} is already enrolled", field="device_id"
            ) from None
        await audit_device(conn, officer, "device.enrol", device_id)
    return schemas.DeviceOut(
        id=device_id,
        device_id=device_id,
        person_id=data.person_id,
        kind=data.kind,
        expected_interval_s=data.expected_interval_s,
        identifier_only=data.identifier_only,
        created_at=created_at,
        token=token,
    )


@router.get("/persons/{person_id}/devices")
async def list_devices(
    ctx: Ctx, officer: CurrentOfficer, person_id: DbId
) -> list[schemas.DeviceOut]:
    async with ctx.pool.acquire() as conn:
        await person_in_reach(conn, officer, person_id)
        rows = await store.list_devices(conn, person_ids=[person_id])
    return [schemas.DeviceOut(**dict(r)) for r in rows]


async def audit_device(conn: Conn, officer: Officer, action: str, device_id: str) -> None:
    await alert_store.audit(
        conn, officer_id=officer.id, action=action, subject=f"device:{device_id}", details={}
    )


async def device_in_reach(conn: Conn, officer: Officer, device_id: str) -> None:
    person_id = await store.device_person(conn, device_id=device_id)
    if person_id is None:
        raise NotFoundError(f"device {device_id!r} not found")
    await person_in_reach(conn, officer, person_id)


@router.post("/devices/{device_id}/rotate")
async def rotate_token(ctx: Ctx, officer: Writer, device_id: DeviceId) -> schemas.DeviceOut:
    """A new token, shown once; the old one is refused once ingest's short cache expires."""
    token = security.new_token()
    async with ctx.pool.acquire() as conn, conn.transaction():
        await device_in_reach(conn, officer, device_id)
        row = await store.rotate_device(
            conn, device_id=device_id, token_hash=security.hash_token(token)
        )
        if row is not None:
            await audit_device(conn, officer, "device.rotate", device_id)
    if row is None:
        raise ConflictError(f"device {device_id!r} is revoked or enrolled for identifier-only use")
    return schemas.DeviceOut(**dict(row), token=token)


@router.post("/devices/{device_id}/revoke")
async def revoke(ctx: Ctx, officer: Writer, device_id: DeviceId) -> schemas.DeviceOut:
    async with ctx.pool.acquire() as conn, conn.transaction():
        await device_in_reach(conn, officer, device_id)
        row = await store.revoke_device(conn, device_id=device_id)
        if row is not None:
            await audit_device(conn, officer, "device.revoke", device_id)
    if row is None:
        raise ConflictError(f"device {device_id!r} is already revoked")
    return schemas.DeviceOut(**dict(row))
