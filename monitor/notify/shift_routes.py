"""The duty roster (值班表): who is on shift at an office, which decides who a webhook
names to be notified. Within the officer's reach; changes audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from alerts import store as alert_store
from alerts.bounds import DbId, Instant
from alerts.known_query import RefuseUnknownQuery
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import BadRequestError, ConflictError, NotFoundError
from monitor.notify import access, schemas, store
from monitor.registry.store import database_now

router = APIRouter(prefix="/v1", tags=["notifications"])

MAX_RANGE = timedelta(days=31)
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("/jurisdictions/{jurisdiction_id}/shifts", status_code=status.HTTP_201_CREATED)
async def create_shift(
    ctx: Ctx, officer: Writer, jurisdiction_id: DbId, data: schemas.ShiftIn
) -> schemas.ShiftOut:
    """Puts an officer on duty at the office for a time. Shifts may overlap (two on duty)."""
    access.require_manager(officer, "keeps the duty roster")
    problem = schemas.shift_bounds_error(data.starts_at, data.ends_at)
    if problem:
        raise BadRequestError(problem, field="ends_at")
    async with ctx.pool.acquire() as conn, conn.transaction():
        office = await access.office_in_reach(conn, officer, jurisdiction_id)
        if data.ends_at <= await database_now(conn):
            raise BadRequestError("ends_at: the shift is already over", field="ends_at")
        if not await store.can_stand_duty(
            conn, officer_id=data.officer_id, office_path=office["path"]
        ):
            raise BadRequestError(
                f"officer_id: no enabled officer {data.officer_id} who sees this office's alerts "
                "(their jurisdiction must be this office or one above it)",
                field="officer_id",
            )
        shift = await store.insert_shift(
            conn, jurisdiction_id=jurisdiction_id, data=data, created_by=officer.id
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="shift.create", subject=f"shift:{shift.id}",
            details={"jurisdiction_id": jurisdiction_id, "officer_id": data.officer_id},
        )  # fmt: skip
    return shift


@router.get("/jurisdictions/{jurisdiction_id}/shifts", dependencies=[RefuseUnknownQuery])
async def list_shifts(
    ctx: Ctx,
    officer: CurrentOfficer,
    jurisdiction_id: DbId,
    start: Annotated[Instant | None, Query(alias="from", description="default: now")] = None,
    end: Annotated[
        Instant | None, Query(alias="to", description="default and at most: from + 31 days")
    ] = None,
    include_cancelled: bool = False,
    limit: Limit = 500,
) -> list[schemas.ShiftOut]:
    """The office's shifts overlapping [from, to), earliest first."""
    async with ctx.pool.acquire() as conn:
        await access.office_in_reach(conn, officer, jurisdiction_id)
        start = start or await database_now(conn)
        end = end or later(start, timedelta(days=7))
        if not start < end or end - start > MAX_RANGE:
            raise BadRequestError("to: must lie after from, at most 31 days later", field="to")
        return await store.list_shifts(
            conn, jurisdiction_id=jurisdiction_id, start=start, end=end,
            cancelled=include_cancelled, limit=limit,
        )  # fmt: skip


def later(start: datetime, by: timedelta) -> datetime:
    """start + by, or the last instant there is (a `from` in year 9999 must not overflow)."""
    try:
        return start + by
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


@router.post("/shifts/{shift_id}/cancel")
async def cancel_shift(ctx: Ctx, officer: Writer, shift_id: DbId) -> schemas.ShiftOut:
    """The shift no longer counts; it stays on the roster's record, marked cancelled."""
    access.require_manager(officer, "keeps the duty roster")
    async with ctx.pool.acquire() as conn, conn.transaction():
        found = await store.get_shift(conn, shift_id=shift_id, for_update=True)
        if found is None or not officer.sees(found[1]):
            raise NotFoundError(f"shift {shift_id} not found")
        if found[0].cancelled_at is not None:
            raise ConflictError(f"shift {shift_id} was cancelled at {found[0].cancelled_at}")
        await store.cancel_shift(conn, shift_id=shift_id, officer_id=officer.id)
        await alert_store.audit(
            conn, officer_id=officer.id, action="shift.cancel", subject=f"shift:{shift_id}",
            details={"jurisdiction_id": found[0].jurisdiction_id},
        )  # fmt: skip
        cancelled = await store.get_shift(conn, shift_id=shift_id)
    assert cancelled is not None
    return cancelled[0]


@router.get("/duty", dependencies=[RefuseUnknownQuery])
async def on_duty(
    ctx: Ctx,
    officer: CurrentOfficer,
    at: Annotated[Instant | None, Query(description="default: now")] = None,
    limit: Limit = 1000,
) -> list[schemas.DutyOut]:
    """Every office of your subtree and who is on duty there at `at`; an empty `on_duty`
    says nobody is (a webhook to that office says so too)."""
    async with ctx.pool.acquire() as conn:
        when: datetime = at or await database_now(conn)
        return await store.duty(conn, under_path=officer.jurisdiction_path, at=when, limit=limit)
