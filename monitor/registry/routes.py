"""Registry API: every read and write limited to the officer's jurisdiction subtree."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import asyncpg
from fastapi import APIRouter, Response, status

from alerts import orders as lapse
from alerts import store as alert_store
from alerts.bounds import DbId
from geofence.errors import InvalidInputError
from geofence.person_rules import zone_info
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from monitor.registry import orders, schemas, store
from monitor.registry.geometry import to_fence_geometry
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["registry"])


def is_root_admin(officer: Officer) -> bool:
    """An admin of a root jurisdiction ('/1/'), whatever its level (a city, a province, the
    ministry): only they act for the whole tree."""
    return officer.role == "admin" and officer.jurisdiction_path.count("/") <= 2


async def jurisdiction_in_reach(
    conn: Conn, officer: Officer, jurisdiction_id: int, *, field: str
) -> str:
    """The jurisdiction's path; one out of reach answers exactly as a missing one, so that
    another district's ids cannot be probed."""
    path = await store.get_jurisdiction_path(conn, jurisdiction_id=jurisdiction_id)
    if path is None or not officer.sees(path):
        raise BadRequestError(
            f"{field}: no jurisdiction {jurisdiction_id} within your reach", field=field
        )
    return path


async def person_in_reach(conn: Conn, officer: Officer, person_id: int) -> schemas.PersonOut:
    found = await store.get_person(conn, person_id=person_id)
    if found is None or not officer.sees(found[1]):
        raise NotFoundError(f"person {person_id} not found")
    return found[0]


async def supervised_in_reach(conn: Conn, officer: Officer, person_id: int) -> schemas.PersonOut:
    """As person_in_reach, for what would track the person again: refused (409) once they
    are discharged (解矫), so no order or device can restart monitoring."""
    person = await person_in_reach(conn, officer, person_id)
    if person.discharged_at is not None:
        raise ConflictError(
            f"person {person_id} was discharged at {person.discharged_at.isoformat()}"
        )
    return person


@router.post("/jurisdictions", status_code=status.HTTP_201_CREATED)
async def create_jurisdiction(
    ctx: Ctx, officer: Writer, data: schemas.JurisdictionIn
) -> schemas.JurisdictionOut:
    if officer.role != "admin":
        raise ForbiddenError("only an admin creates jurisdictions")
    async with ctx.pool.acquire() as conn, conn.transaction():
        if data.parent_id is None:
            if not is_root_admin(officer):
                raise ForbiddenError(
                    "parent_id: only an admin of the root may create a root jurisdiction"
                )
        else:
            await jurisdiction_in_reach(conn, officer, data.parent_id, field="parent_id")
        try:
            made = await store.insert_jurisdiction(conn, data=data)
        except asyncpg.UniqueViolationError:
            raise ConflictError(
                f"code: {data.code!r} is already another jurisdiction's", field="code"
            ) from None
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
        path = await jurisdiction_in_reach(conn, officer, jurisdiction_id, field="jurisdiction_id")
        await check_fences(conn, data.allowed_fence_ids, "allowed", path, field="allowed_fence_ids")
        await check_fences(
            conn, data.exclusion_fence_ids, "exclusion", path, field="exclusion_fence_ids"
        )
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


async def check_fences(
    conn: Conn,
    fence_ids: list[int],
    role: str,
    person_path: str,
    *,
    field: str,
    keeping: Collection[int] = (),
) -> None:
    """Every fence must be one the person's officers see (shared, or of the person's
    jurisdiction, its ancestors or subtree); otherwise a person would be an oracle for
    whether a point lies in another district's exclusion zone. A fence out of reach is
    answered exactly as one that does not exist. A retired fence is given to no one new
    (those `keeping` it already may keep it)."""
    unique = sorted(set(fence_ids))
    found = await store.visible_fence_ids(
        conn, fence_ids=unique, role=role, viewer_path=person_path
    )
    for fence_id in unique:
        if fence_id not in found:
            raise BadRequestError(
                f"{field}: no {role} fence {fence_id} in this person's reach", field=field
            )
    for fence_id in sorted(await store.retired_fence_ids(conn, fence_ids=unique)):
        if fence_id not in keeping:
            raise BadRequestError(
                f"{field}: fence {fence_id} is retired; give its successor", field=field
            )


@router.get("/persons/{person_id}")
async def get_person(
    ctx: Ctx, officer: CurrentOfficer, person_id: DbId, response: Response
) -> schemas.PersonOut:
    """The `ETag` (the person's revision) goes back in `If-Match` of a PATCH."""
    async with ctx.pool.acquire() as conn:
        person = await person_in_reach(conn, officer, person_id)
    response.headers["ETag"] = f'"{person.revision}"'
    return person


@router.post("/persons/{person_id}/orders", status_code=status.HTTP_201_CREATED)
async def create_order(
    ctx: Ctx, officer: Writer, person_id: DbId, data: schemas.OrderIn
) -> schemas.OrderOut:
    """One live order per person and kind at a time: an overlap answers 409 naming the order
    in force (a renewal starts when it ends). Grounds, span and start: see `basis`."""
    async with ctx.pool.acquire() as conn:
        await supervised_in_reach(conn, officer, person_id)
        orders.check_order(data, now=await store.database_now(conn))
        try:
            async with conn.transaction():
                order = await store.insert_order(
                    conn, person_id=person_id, data=data, officer_id=officer.id
                )
                await alert_store.audit(
                    conn, officer_id=officer.id, action="order.create",
                    subject=f"person:{person_id}",
                    details={"order_id": order.id, "kind": data.kind},
                )  # fmt: skip
            return order
        except asyncpg.ExclusionViolationError:
            current = await store.overlapping_order(conn, person_id=person_id, data=data)
        raise overlap_error(person_id, data, current)


def overlap_error(
    person_id: int, data: schemas.OrderIn, current: schemas.OrderOut | None
) -> ConflictError:
    if current is None:  # revoked between the insert and the look-up
        return ConflictError(f"starts_at: an order of person {person_id} was changed; retry")
    return ConflictError(
        f"starts_at: person {person_id} has {data.kind} order {current.id} in force from "
        f"{current.starts_at.isoformat()} to {current.ends_at.isoformat()}; one order of a "
        "kind at a time: a renewal starts when it ends",
        field="starts_at",
    )


@router.post("/orders/{order_id}/revoke")
async def revoke_order(
    ctx: Ctx, officer: Writer, order_id: DbId, data: schemas.RevokeIn
) -> schemas.OrderOut:
    """解除: the order ends now, with the reason on record (audited). Pings fixed after it are
    refused within about a second; positions fixed while it was in force are still taken."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        order = await order_in_reach(conn, officer, order_id)
        if order.revoked_at is not None:
            raise ConflictError(f"order {order_id} was revoked at {order.revoked_at.isoformat()}")
        if order.ends_at <= await store.database_now(conn):
            raise ConflictError(f"order {order_id} ended at {order.ends_at.isoformat()}")
        revoked = await store.revoke_order(
            conn, order_id=order_id, officer_id=officer.id, reason=data.reason
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="order.revoke",
            subject=f"person:{order.person_id}",
            details={"order_id": order_id, "kind": order.kind, "reason": data.reason},
        )  # fmt: skip
    return revoked


async def order_in_reach(conn: Conn, officer: Officer, order_id: int) -> schemas.OrderOut:
    """The order, locked; another jurisdiction's answers as a missing one."""
    found = await store.lock_order(conn, order_id=order_id)
    if found is None or not officer.sees(found[1]):
        raise NotFoundError(f"order {order_id} not found")
    return found[0]


@router.get("/persons/{person_id}/orders")
async def list_orders(ctx: Ctx, officer: CurrentOfficer, person_id: DbId) -> list[schemas.OrderOut]:
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
        rows = await lapse.lapsing(
            conn, now=now, notice=notice, under_path=officer.jurisdiction_path
        )
    return [schemas.LapsingOrderOut(**r) for r in rows]


@router.post("/fences", status_code=status.HTTP_201_CREATED)
async def create_fence(ctx: Ctx, officer: Writer, data: schemas.FenceIn) -> schemas.FenceOut:
    if data.jurisdiction_id is None and not is_root_admin(officer):
        raise ForbiddenError(
            "jurisdiction_id: a fence without a jurisdiction is shared by the whole tree; only "
            "an admin of the root creates one. Give your jurisdiction's id",
            field="jurisdiction_id",
        )
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
async def get_fence(
    ctx: Ctx, officer: CurrentOfficer, fence_id: DbId, response: Response
) -> schemas.FenceOut:
    """The current version, with its `ETag` for `If-Match` of a PATCH."""
    async with ctx.pool.acquire() as conn:
        fence = await store.get_fence(
            conn, fence_id=fence_id, viewer_path=officer.jurisdiction_path
        )
    if fence is None:
        raise NotFoundError(f"fence {fence_id} not found")
    response.headers["ETag"] = f'"{fence.version}"'
    return fence
