"""Registry API: every read and write limited to the officer's jurisdiction subtree."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from fastapi import APIRouter, Query, status

from alerts import orders
from alerts import store as alert_store
from geofence.errors import InvalidInputError
from geofence.rules import zone_info
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from monitor.registry import schemas, store
from monitor.registry.geometry import to_fence_geometry

Conn = asyncpg.Connection | PoolConnectionProxy

router = APIRouter(prefix="/v1", tags=["registry"])

# Community Corrections Law art. 29: one approval covers at most three months
MAX_POSITIONING_ORDER = timedelta(days=92)


async def jurisdiction_in_reach(
    conn: Conn, officer: Officer, jurisdiction_id: int, *, field: str
) -> str:
    path = await store.get_jurisdiction_path(conn, jurisdiction_id=jurisdiction_id)
    if path is None:
        raise BadRequestError(
            f"{field}: jurisdiction {jurisdiction_id} does not exist", field=field
        )
    if not officer.sees(path):
        raise ForbiddenError(
            f"{field}: jurisdiction {jurisdiction_id} is outside your jurisdiction"
        )
    return path


async def person_in_reach(conn: Conn, officer: Officer, person_id: int) -> schemas.PersonOut:
    found = await store.get_person(conn, person_id=person_id)
    if found is None or not officer.sees(found[1]):
        raise NotFoundError(f"person {person_id} not found")
    return found[0]


@router.post("/jurisdictions", status_code=status.HTTP_201_CREATED)
async def create_jurisdiction(
    ctx: Ctx, officer: Writer, data: schemas.JurisdictionIn
) -> schemas.JurisdictionOut:
    async with ctx.pool.acquire() as conn, conn.transaction():
        if data.parent_id is None:
            if officer.role != "admin" or officer.jurisdiction_path.count("/") > 2:
                raise ForbiddenError("parent_id: only a city admin may create a root jurisdiction")
        else:
            await jurisdiction_in_reach(conn, officer, data.parent_id, field="parent_id")
        made = await store.insert_jurisdiction(conn, data=data)
        await alert_store.audit(
            conn, officer_id=officer.id, action="jurisdiction.create",
            subject=f"jurisdiction:{made.id}", details={"parent_id": data.parent_id},
        )  # fmt: skip
        return made


@router.get("/jurisdictions")
async def list_jurisdictions(ctx: Ctx, officer: CurrentOfficer) -> list[schemas.JurisdictionOut]:
    async with ctx.pool.acquire() as conn:
        return await store.list_jurisdictions(conn, under_path=officer.jurisdiction_path)


@router.post("/persons", status_code=status.HTTP_201_CREATED)
async def create_person(ctx: Ctx, officer: Writer, data: schemas.PersonIn) -> schemas.PersonOut:
    jurisdiction_id = data.jurisdiction_id or officer.jurisdiction_id
    try:
        zone_info(data.timezone)  # curfew hours are read in it
    except InvalidInputError as error:
        raise BadRequestError(str(error), field="timezone") from None
    async with ctx.pool.acquire() as conn, conn.transaction():
        await jurisdiction_in_reach(conn, officer, jurisdiction_id, field="jurisdiction_id")
        await check_fences(conn, data.allowed_fence_ids, "allowed", field="allowed_fence_ids")
        await check_fences(conn, data.exclusion_fence_ids, "exclusion", field="exclusion_fence_ids")
        try:
            person_id = await store.insert_person(conn, data=data, jurisdiction_id=jurisdiction_id)
        except asyncpg.UniqueViolationError:
            raise ConflictError(
                f"case_number: {data.case_number!r} is already registered", field="case_number"
            ) from None
        await alert_store.audit(
            conn, officer_id=officer.id, action="person.create", subject=f"person:{person_id}",
            details={"jurisdiction_id": jurisdiction_id},
        )  # fmt: skip
        return await person_in_reach(conn, officer, person_id)


async def check_fences(conn: Conn, fence_ids: list[int], role: str, *, field: str) -> None:
    unique = sorted(set(fence_ids))
    if await store.count_fences(conn, fence_ids=unique, role=role) != len(unique):
        raise BadRequestError(f"{field}: every id must name an existing {role} fence", field=field)


@router.get("/persons")
async def list_persons(
    ctx: Ctx,
    officer: CurrentOfficer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[schemas.PersonOut]:
    async with ctx.pool.acquire() as conn:
        return await store.list_persons(
            conn, under_path=officer.jurisdiction_path, limit=limit, offset=offset
        )


@router.get("/persons/{person_id}")
async def get_person(ctx: Ctx, officer: CurrentOfficer, person_id: int) -> schemas.PersonOut:
    async with ctx.pool.acquire() as conn:
        return await person_in_reach(conn, officer, person_id)


@router.post("/persons/{person_id}/orders", status_code=status.HTTP_201_CREATED)
async def create_order(
    ctx: Ctx, officer: Writer, person_id: int, data: schemas.OrderIn
) -> schemas.OrderOut:
    if data.starts_at.tzinfo is None or data.ends_at.tzinfo is None:
        raise BadRequestError(
            "starts_at/ends_at: give a time zone offset, e.g. 2026-01-01T00:00:00+08:00"
        )
    if data.ends_at <= data.starts_at:
        raise BadRequestError("ends_at: must be after starts_at", field="ends_at")
    if (
        data.kind == "electronic_positioning"
        and data.ends_at - data.starts_at > MAX_POSITIONING_ORDER
    ):
        raise BadRequestError(
            "ends_at: an electronic positioning order covers at most three months; renew it",
            field="ends_at",
        )
    async with ctx.pool.acquire() as conn, conn.transaction():
        await person_in_reach(conn, officer, person_id)
        order = await store.insert_order(
            conn, person_id=person_id, data=data, officer_id=officer.id
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="order.create", subject=f"person:{person_id}",
            details={"order_id": order.id, "kind": data.kind},
        )  # fmt: skip
        return order


@router.get("/persons/{person_id}/orders")
async def list_orders(ctx: Ctx, officer: CurrentOfficer, person_id: int) -> list[schemas.OrderOut]:
    async with ctx.pool.acquire() as conn:
        await person_in_reach(conn, officer, person_id)
        return await store.list_orders(conn, person_id=person_id)


@router.get("/orders/lapsing")
async def lapsing_orders(ctx: Ctx, officer: CurrentOfficer) -> list[schemas.LapsingOrderOut]:
    """Live orders in the officer's jurisdictions that end within `MONITOR_ORDER_NOTICE_DAYS`
    and have not been renewed, soonest first: what the `order.lapsing` notices said."""
    notice = timedelta(days=ctx.settings.order_notice_days)
    async with ctx.pool.acquire() as conn:
        now = await conn.fetchval("SELECT now()")
        rows = await orders.lapsing(
            conn, now=now, notice=notice, under_path=officer.jurisdiction_path
        )
    return [schemas.LapsingOrderOut(**r) for r in rows]


@router.post("/fences", status_code=status.HTTP_201_CREATED)
async def create_fence(ctx: Ctx, officer: Writer, data: schemas.FenceIn) -> schemas.FenceOut:
    geometry, warnings = to_fence_geometry(data.geometry, data.crs)
    data = data.model_copy(update={"geometry": geometry})
    async with ctx.pool.acquire() as conn, conn.transaction():
        if data.jurisdiction_id is not None:
            await jurisdiction_in_reach(
                conn, officer, data.jurisdiction_id, field="jurisdiction_id"
            )
        row = await store.insert_fence(conn, data=data)
        await alert_store.audit(
            conn, officer_id=officer.id, action="fence.create", subject=f"fence:{row['id']}",
            details={"role": data.role, "jurisdiction_id": data.jurisdiction_id},
        )  # fmt: skip
    return schemas.FenceOut(
        id=row["id"],
        name=data.name,
        role=data.role,
        crs=data.crs,
        properties=data.properties,
        jurisdiction_id=data.jurisdiction_id,
        version=row["version"],
        created_at=row["created_at"],
        warnings=warnings,
    )


@router.get("/fences")
async def list_fences(ctx: Ctx, officer: CurrentOfficer) -> list[schemas.FenceOut]:
    async with ctx.pool.acquire() as conn:
        return await store.list_fences(conn, viewer_path=officer.jurisdiction_path)


@router.get("/fences/{fence_id}")
async def get_fence(ctx: Ctx, officer: CurrentOfficer, fence_id: int) -> schemas.FenceOut:
    async with ctx.pool.acquire() as conn:
        fence = await store.get_fence(
            conn, fence_id=fence_id, viewer_path=officer.jurisdiction_path
        )
    if fence is None:
        raise NotFoundError(f"fence {fence_id} not found")
    return fence
