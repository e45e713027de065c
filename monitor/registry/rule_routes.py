"""A person's rules and leave permits: curfews, check-ins, alert suspensions, own thresholds,
外出审批.

Rules are checked by the same parser the evaluator uses, so what is accepted here is what
is applied. Every change is written to the audit log with the officer who made it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from alerts import store as alert_store
from alerts.bounds import DbId, Instant, JsonObject, Text
from geofence.errors import InvalidInputError
from geofence.person_rules import parse_rules
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.errors import BadRequestError, ConflictError, NotFoundError
from monitor.registry import store as registry_store
from monitor.registry.routes import check_fences, person_in_reach
from pings.clock import dt_to_ms, ms_to_dt
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["rules"])

RuleKind = Literal["curfew", "checkin", "suspension", "thresholds"]
# 外出审批 practice: a county-level approval covers at most a month away
MAX_PERMIT = timedelta(days=31)


class RuleIn(BaseModel):
    kind: RuleKind
    params: JsonObject


class RuleOut(RuleIn):
    id: int
    person_id: int
    active: bool
    created_at: datetime
    # a check-in rule's next window is judged then (its end plus the grace); others: null
    due_at: datetime | None


class PermitIn(BaseModel):
    starts_at: Instant
    ends_at: Instant
    destination: Text = Field(default="", max_length=500)
    grace_s: int = Field(default=3600, ge=0, le=7 * 86400)


class PermitOut(PermitIn):
    id: int
    person_id: int
    returned_at: datetime | None
    cancelled_at: datetime | None
    closed_at: datetime | None
    overdue_alert_id: int | None
    created_at: datetime


RULE_COLUMNS = "id, person_id, kind, params, active, created_at, due_at"
PERMIT_COLUMNS = """id, person_id, starts_at, ends_at, destination, grace_s, returned_at,
cancelled_at, closed_at, overdue_alert_id, created_at"""


@router.post("/persons/{person_id}/rules", status_code=status.HTTP_201_CREATED)
async def create_rule(ctx: Ctx, officer: Writer, person_id: DbId, data: RuleIn) -> RuleOut:
    async with ctx.pool.acquire() as conn, conn.transaction():
        person = await person_in_reach(conn, officer, person_id)
        try:
            parsed = parse_rules(person.timezone, [{"id": 0, **data.model_dump()}], [])
        except InvalidInputError as error:
            raise BadRequestError(str(error), field=str(error).split(":")[0]) from None
        if parsed.curfews:
            path = await registry_store.get_jurisdiction_path(
                conn, jurisdiction_id=person.jurisdiction_id
            )
            assert path is not None  # the person's jurisdiction, just read
            fence_id = parsed.curfews[0].fence_id
            await check_fences(conn, [fence_id], "allowed", path, field="params.fence_id")
        due_at = None
        if parsed.checkins:  # the first window opening after now is the first judged
            now: datetime = await conn.fetchval("SELECT now()")
            checkin = parsed.checkins[0]
            window = checkin.next_window(dt_to_ms(now), parsed.zone)
            due_at = ms_to_dt(checkin.due_ms(window))
        row = one(
            await conn.fetchrow(
                f"INSERT INTO person_rules (person_id, kind, params, created_by, due_at) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {RULE_COLUMNS}",
                person_id,
                data.kind,
                data.params,
                officer.id,
                due_at,
            )
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="rule.create", subject=f"person:{person_id}",
            details={"rule_id": row["id"], "kind": data.kind, "params": data.params},
        )  # fmt: skip
    return RuleOut(**dict(row))


@router.get("/persons/{person_id}/rules")
async def list_rules(ctx: Ctx, officer: CurrentOfficer, person_id: DbId) -> list[RuleOut]:
    async with ctx.pool.acquire() as conn:
        await person_in_reach(conn, officer, person_id)
        rows = await conn.fetch(
            f"SELECT {RULE_COLUMNS} FROM person_rules WHERE person_id = $1 ORDER BY id", person_id
        )
    return [RuleOut(**dict(r)) for r in rows]


@router.delete("/persons/{person_id}/rules/{rule_id}")
async def deactivate_rule(ctx: Ctx, officer: Writer, person_id: DbId, rule_id: DbId) -> RuleOut:
    """Rules are switched off, never deleted: what applied when stays on record."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await person_in_reach(conn, officer, person_id)
        row = await conn.fetchrow(
            f"UPDATE person_rules SET active = false, deactivated_at = now() "
            f"WHERE id = $1 AND person_id = $2 RETURNING {RULE_COLUMNS}",
            rule_id,
            person_id,
        )
        if row is None:
            raise NotFoundError(f"rule {rule_id} of person {person_id} not found")
        await alert_store.audit(
            conn, officer_id=officer.id, action="rule.deactivate",
            subject=f"person:{person_id}", details={"rule_id": rule_id},
        )  # fmt: skip
    return RuleOut(**dict(row))


@router.post("/persons/{person_id}/permits", status_code=status.HTTP_201_CREATED)
async def create_permit(ctx: Ctx, officer: Writer, person_id: DbId, data: PermitIn) -> PermitOut:
    for name in ("starts_at", "ends_at"):
        if getattr(data, name).tzinfo is None:
            raise BadRequestError(
                f"{name}: give a time zone offset, e.g. 2026-01-01T08:00:00+08:00", field=name
            )
    if data.ends_at <= data.starts_at:
        raise BadRequestError("ends_at: must be after starts_at", field="ends_at")
    if data.ends_at - data.starts_at > MAX_PERMIT:
        raise BadRequestError(
            f"ends_at: a leave permit covers at most {MAX_PERMIT.days} days", field="ends_at"
        )
    async with ctx.pool.acquire() as conn, conn.transaction():
        await person_in_reach(conn, officer, person_id)
        row = one(
            await conn.fetchrow(
                f"INSERT INTO leave_permits (person_id, starts_at, ends_at, destination, grace_s, "
                f"approved_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PERMIT_COLUMNS}",
                person_id,
                data.starts_at,
                data.ends_at,
                data.destination,
                data.grace_s,
                officer.id,
            )
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="permit.create", subject=f"person:{person_id}",
            details={"permit_id": row["id"], "starts_at": data.starts_at.isoformat(),
                     "ends_at": data.ends_at.isoformat(), "destination": data.destination},
        )  # fmt: skip
    return PermitOut(**dict(row))


@router.get("/persons/{person_id}/permits")
async def list_permits(ctx: Ctx, officer: CurrentOfficer, person_id: DbId) -> list[PermitOut]:
    async with ctx.pool.acquire() as conn:
        await person_in_reach(conn, officer, person_id)
        rows = await conn.fetch(
            f"SELECT {PERMIT_COLUMNS} FROM leave_permits WHERE person_id = $1 ORDER BY id",
            person_id,
        )
    return [PermitOut(**dict(r)) for r in rows]


@router.post("/persons/{person_id}/permits/{permit_id}/cancel")
async def cancel_permit(ctx: Ctx, officer: Writer, person_id: DbId, permit_id: DbId) -> PermitOut:
    async with ctx.pool.acquire() as conn, conn.transaction():
        await person_in_reach(conn, officer, person_id)
        row = await permit_row(conn, person_id, permit_id)
        if row["closed_at"] is not None or row["cancelled_at"] is not None:
            raise ConflictError(f"permit {permit_id} is already closed or cancelled")
        row = one(
            await conn.fetchrow(
                f"UPDATE leave_permits SET cancelled_at = now() WHERE id = $1 "
                f"RETURNING {PERMIT_COLUMNS}",
                permit_id,
            )
        )
        await alert_store.audit(
            conn, officer_id=officer.id, action="permit.cancel", subject=f"person:{person_id}",
            details={"permit_id": permit_id},
        )  # fmt: skip
    return PermitOut(**dict(row))


def one(row: asyncpg.Record | None) -> asyncpg.Record:
    assert row is not None  # INSERT/UPDATE ... RETURNING of a row known to exist
    return row


async def permit_row(conn: Conn, person_id: int, permit_id: int) -> Any:
    row = await conn.fetchrow(
        f"SELECT {PERMIT_COLUMNS} FROM leave_permits WHERE id = $1 AND person_id = $2 FOR UPDATE",
        permit_id,
        person_id,
    )
    if row is None:
        raise NotFoundError(f"permit {permit_id} of person {person_id} not found")
    return row
