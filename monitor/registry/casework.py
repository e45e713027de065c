"""A person's record changes, with history: level, fences, jurisdiction (执行地变更), time zone,
name and case number; and supervision ends (解矫). Within the officer's reach, audited.

The evaluators see a change at their next batch of the person's pings: every change here
moves `persons.revision` in the same transaction (migration 0006), and a worker re-reads a
cached person whose revision moved (evaluator/person_cache.py). docs/decisions/0015.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, Query, Response

from alerts import outbox
from alerts import store as alert_store
from alerts.bounds import DbId, Offset
from alerts.known_query import RefuseUnknownQuery
from alerts.models import EventType, NewEvent
from alerts.outbox import alert_event, publish
from geofence.person_rules import zone_info
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer, Writer
from monitor.error_responses import documented
from monitor.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
)
from monitor.registry import casework_store, store
from monitor.registry.casework_plan import Plan, plan_patch
from monitor.registry.casework_schemas import (
    DischargeIn,
    DischargeOut,
    PersonHistoryOut,
    PersonPatch,
)
from monitor.registry.schemas import PersonOut
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["registry"])

IfMatch = Annotated[
    str | None,
    Header(
        max_length=1000,
        description='the ETag of the record as read (`"<revision>"`); a record changed since '
        "answers 412 instead of overwriting that change",
    ),
]


def etag(revision: int) -> str:
    return f'"{revision}"'  # as GET /v1/persons/{id} answers it


def check_precondition(if_match: str | None, revision: int, *, what: str = "person") -> None:
    """RFC 9110 If-Match: strong comparison; `*` matches any existing record."""
    if if_match is None:
        return
    tags = {tag.strip() for tag in if_match.split(",")}
    if "*" not in tags and etag(revision) not in tags:
        raise PreconditionFailedError(
            f"If-Match: the {what} is now at {etag(revision)}; read it again and reapply "
            "your change",
            field="If-Match",
        )


async def locked_person(conn: Conn, officer: Officer, person_id: int) -> tuple[PersonOut, str]:
    """The person, row-locked to commit, and their jurisdiction's path; out of reach answers
    as missing; a discharged person's record is closed (409)."""
    found = None
    if await casework_store.lock_person(conn, person_id=person_id) is not None:
        found = await store.get_person(conn, person_id=person_id)
    if found is None or not officer.sees(found[1]):
        raise NotFoundError(f"person {person_id} not found")
    person = found[0]
    if person.discharged_at is not None:
        raise ConflictError(
            f"person {person_id} was discharged at {person.discharged_at.isoformat()}; "
            "the record is kept as it was"
        )
    return found


@router.patch("/persons/{person_id}", responses=documented(412))
async def patch_person(
    ctx: Ctx,
    officer: Writer,
    person_id: DbId,
    patch: PersonPatch,
    response: Response,
    if_match: IfMatch = None,
) -> PersonOut:
    """JSON merge patch: only the fields given change, each change kept in the history
    (`GET /v1/persons/{id}/history`) and audited. Fences follow the reach rules of creation,
    from the person's (new) jurisdiction. A transfer moves the person's open alerts too."""
    event_ids: list[int] = []
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            current, path = await locked_person(conn, officer, person_id)
            check_precondition(if_match, current.revision)
            plan = await plan_patch(conn, officer, current, path, patch)
            if plan.changes:
                event_ids = await apply(conn, officer, current, plan, patch.reason or "")
            found = await store.get_person(conn, person_id=person_id)
        assert found is not None
    await publish(ctx.redis, ctx.pool, event_ids)
    response.headers["ETag"] = etag(found[0].revision)
    return found[0]


async def apply(
    conn: Conn, officer: Officer, current: PersonOut, plan: Plan, reason: str
) -> list[int]:
    """Writes the change, its history and audit rows and, for a transfer, the moved alerts'
    events; answers the events' ids."""
    new = {field: change["new"] for field, change in plan.changes.items()}
    try:
        await casework_store.update_person(conn, person_id=current.id, changes=new)
    except asyncpg.UniqueViolationError:
        raise ConflictError(
            f"case_number: {new['case_number']!r} is already another person's",
            field="case_number",
        ) from None
    for field, role in (("allowed_fence_ids", "allowed"), ("exclusion_fence_ids", "exclusion")):
        if field in new:
            await casework_store.set_fences(
                conn, person_id=current.id, role=role, fence_ids=new[field]
            )
    events = await transfer(conn, officer, current, plan) if plan.new_path else []
    history_id = await casework_store.insert_history(
        conn, person_id=current.id, officer_id=officer.id, action="update",
        changes=plan.changes, reason=reason,
    )  # fmt: skip
    await alert_store.audit(
        conn, officer_id=officer.id, action="person.update", subject=f"person:{current.id}",
        details={"fields": sorted(plan.changes), "history_id": history_id},
    )  # fmt: skip
    return await outbox.append_events(conn, events=events)


async def transfer(conn: Conn, officer: Officer, current: PersonOut, plan: Plan) -> list[NewEvent]:
    """执行地变更: open alerts move to the new office (which sees and escalates them); the
    old office's consoles hear `person.transferred` with the ids that left them."""
    target = plan.changes["jurisdiction_id"]["new"]
    moved = await casework_store.move_open_alerts(
        conn, person_id=current.id, jurisdiction_id=target
    )
    extra = {"moved_from_jurisdiction_id": current.jurisdiction_id}
    events = [
        replace(
            await alert_event(conn, alert_id, EventType.ALERT_UPDATED, extra),
            actor_officer_id=officer.id,
        )
        for alert_id in moved
    ]
    # the old office may not see the new one: the name and case number let its console say
    # where the case went without asking for a record it can no longer read
    payload: dict[str, Any] = {
        "person_id": current.id,
        "case_number": current.case_number,
        "from_jurisdiction_id": current.jurisdiction_id,
        "to_jurisdiction_id": target,
        "to_jurisdiction_name": await casework_store.jurisdiction_name(
            conn, jurisdiction_id=target
        ),
        "alert_ids": moved,
    }
    left = NewEvent(
        EventType.PERSON_TRANSFERRED, current.id, current.jurisdiction_id, plan.old_path,
        payload, actor_officer_id=officer.id,
    )  # fmt: skip
    return [left, *events]


@router.get("/persons/{person_id}/history", dependencies=[RefuseUnknownQuery])
async def person_history(
    ctx: Ctx,
    officer: CurrentOfficer,
    person_id: DbId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[PersonHistoryOut]:
    """Every change to the person's record, oldest first: who, when, each field's old and
    new value, and the reason given."""
    async with ctx.pool.acquire() as conn:
        found = await store.get_person(conn, person_id=person_id)
        if found is None or not officer.sees(found[1]):
            raise NotFoundError(f"person {person_id} not found")
        rows = await casework_store.list_history(
            conn, person_id=person_id, limit=limit, offset=offset
        )
    return [PersonHistoryOut(**dict(r)) for r in rows]


@router.post("/persons/{person_id}/discharge")
async def discharge(ctx: Ctx, officer: Writer, person_id: DbId, data: DischargeIn) -> DischargeOut:
    """解矫: supervision ends now. Monitoring orders are revoked (ingest refuses later fixes),
    devices revoked (their credentials refused), leave permits cancelled, open alerts
    resolved (`auto_cleared`, the reason in the note); nothing is deleted. Audited and kept
    in the history. A discharged person's record no longer changes (409)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        current, _ = await locked_person(conn, officer, person_id)
        await check_discharge_date(conn, current, data.date)
        ended = await casework_store.discharge(
            conn, person_id=person_id, officer_id=officer.id, on=data.date,
            reason=data.reason,
        )  # fmt: skip
        found = await store.get_person(conn, person_id=person_id)
        assert found is not None
        event_ids = await record_discharge(conn, officer, found[0], ended, data.reason)
    await publish(ctx.redis, ctx.pool, event_ids)
    return DischargeOut(
        person=found[0],
        revoked_order_ids=ended.order_ids,
        revoked_device_ids=ended.device_ids,
        closed_alert_ids=ended.alert_ids,
        cancelled_permit_ids=ended.permit_ids,
    )


async def check_discharge_date(conn: Conn, person: PersonOut, on: dt.date) -> None:
    """Not before the person was registered, not after today where the person lives."""
    now = await store.database_now(conn)
    zone = zone_info(person.timezone)
    first, today = person.created_at.astimezone(zone).date(), now.astimezone(zone).date()
    if not first <= on <= today:
        raise BadRequestError(
            f"date: must lie between {first.isoformat()} (when the person was registered) "
            f"and {today.isoformat()} (today in {person.timezone})",
            field="date",
        )


async def record_discharge(
    conn: Conn, officer: Officer, person: PersonOut, ended: casework_store.Ended, reason: str
) -> list[int]:
    """History, audit, and an alert.resolved event per closed alert, so consoles drop them."""
    assert person.discharged_at is not None and person.discharge_date is not None
    changes = {
        "discharged_at": {"old": None, "new": person.discharged_at.isoformat()},
        "discharge_date": {"old": None, "new": person.discharge_date.isoformat()},
    }
    await casework_store.insert_history(
        conn, person_id=person.id, officer_id=officer.id, action="discharge",
        changes=changes, reason=reason,
    )  # fmt: skip
    await alert_store.audit(
        conn, officer_id=officer.id, action="person.discharge", subject=f"person:{person.id}",
        details={"orders": ended.order_ids, "devices": ended.device_ids,
                 "alerts": ended.alert_ids, "permits": ended.permit_ids},
    )  # fmt: skip
    events = [
        replace(
            await alert_event(
                conn, alert_id, EventType.ALERT_RESOLVED, {"actor_officer_id": officer.id}
            ),
            actor_officer_id=officer.id,
        )
        for alert_id in ended.alert_ids
    ]
    return await outbox.append_events(conn, events=events)
