"""Officer alert API: list, get, acknowledge, resolve; person tracks and latest positions."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer

from alerts import outbox, queries, schemas, store, track
from alerts.bounds import DbId, Instant, Offset
from alerts.errors import OutOfReachError
from alerts.followup import AssignedTo, assignee_filter
from alerts.known_query import RefuseUnknownQuery
from alerts.models import Alert, AlertStatus, AlertType, EventType, Viewer, transition
from alerts.outbox import publish
from alerts.queries import AlertSort
from alerts.runtime import AlertsRuntime, runtime_of
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["alerts"])
bearer = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> AlertsRuntime:
    return runtime_of(request)


Runtime = Annotated[AlertsRuntime, Depends(get_runtime)]


async def get_viewer(runtime: Runtime, token: Annotated[str | None, Depends(bearer)]) -> Viewer:
    return await runtime.authenticate(token)


CurrentViewer = Annotated[Viewer, Depends(get_viewer)]


def alert_out(alert: Alert) -> schemas.AlertOut:
    return schemas.AlertOut(**alert.to_wire())


@router.get("/alerts", dependencies=[RefuseUnknownQuery])
async def list_alerts(
    runtime: Runtime,
    viewer: CurrentViewer,
    status: Annotated[list[AlertStatus] | None, Query(max_length=len(AlertStatus))] = None,
    type: Annotated[list[AlertType] | None, Query(max_length=len(AlertType))] = None,
    person_id: DbId | None = None,
    jurisdiction_id: DbId | None = None,
    opened_from: Instant | None = None,
    opened_to: Instant | None = None,
    sort: AlertSort = AlertSort.NEWEST,
    assigned_to: AssignedTo = None,
    followup_due: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[schemas.AlertRowOut]:
    """Alerts within reach, filtered: `status` and `type` repeat for several values, the
    opening time range is [opened_from, opened_to); `severity` orders by the type's urgency,
    then the escalation rung, then the longest waiting (alerts/queries.py). `assigned_to`
    takes an officer's id, `me` or `none`; `followup_due` an unresolved alert without a
    follow-up note for a day (docs/decisions/0018)."""
    if opened_from and opened_to and opened_from > opened_to:
        raise invalid("opened_from", "must not be after opened_to")
    try:
        assignee = assignee_filter(assigned_to, viewer)
    except ValueError as exc:
        raise invalid("assigned_to", str(exc)) from None
    async with runtime.pool.acquire() as conn, conn.transaction():
        under = await path_in_reach(conn, viewer, jurisdiction_id)
        where = queries.AlertFilter(
            under, status, type, person_id, opened_from, opened_to, sort,
            assignee.officer_id, assignee.unassigned, followup_due,
        )  # fmt: skip
        await store.audit(  # alerts carry the positions that raised them
            conn, officer_id=viewer.id, action="read_alerts", subject=viewer.jurisdiction_path,
            details={**asdict(where), "jurisdiction_id": jurisdiction_id, "offset": offset},
        )  # fmt: skip
        rows = await queries.list_triage(conn, where=where, limit=limit, offset=offset)
    return [schemas.AlertRowOut(**r) for r in rows]


def invalid(field: str, message: str) -> RequestValidationError:
    """The same 422 as a value out of its bounds, naming the query parameter."""
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


async def path_in_reach(conn: Conn, viewer: Viewer, jurisdiction_id: int | None) -> str:
    """The subtree to list; one out of reach answers exactly as a missing one."""
    if jurisdiction_id is None:
        return viewer.jurisdiction_path
    path = await queries.jurisdiction_path(conn, jurisdiction_id=jurisdiction_id)
    if path is None or not viewer.sees(path):  # 404, as the persons, devices and reports
        raise OutOfReachError(
            f"jurisdiction_id: no jurisdiction {jurisdiction_id} within your reach",
            field="jurisdiction_id",
        )
    return path


async def alert_in_reach(conn: Conn, viewer: Viewer, alert_id: int, *, lock: bool = False) -> Alert:
    alert = await store.get_alert(conn, alert_id=alert_id, for_update=lock)
    if alert is None or not viewer.sees(alert.jurisdiction_path):
        raise HTTPException(404, f"alert {alert_id} not found")
    return alert


@router.get("/alerts/{alert_id}")
async def get_alert(runtime: Runtime, viewer: CurrentViewer, alert_id: DbId) -> schemas.AlertOut:
    async with runtime.pool.acquire() as conn, conn.transaction():
        alert = await alert_in_reach(conn, viewer, alert_id)
        await store.audit(
            conn, officer_id=viewer.id, action="read_alert", subject=f"alert:{alert_id}",
            details={"person_id": alert.person_id},
        )  # fmt: skip
        return alert_out(alert)


@router.get("/alerts/{alert_id}/actions")
async def alert_actions(
    runtime: Runtime, viewer: CurrentViewer, alert_id: DbId
) -> list[schemas.AlertActionOut]:
    async with runtime.pool.acquire() as conn:
        await alert_in_reach(conn, viewer, alert_id)
        rows = await store.alert_history(conn, alert_id=alert_id)
    return [
        schemas.AlertActionOut(
            **{k: r[k] for k in ("id", "type", "actor_officer_id", "created_at")},
            **{k: r["payload"].get(k) for k in ("action", "assigned_to", "note_id")},
        )
        for r in rows
    ]


@router.post("/alerts/{alert_id}/ack")
async def acknowledge(
    runtime: Runtime, viewer: CurrentViewer, alert_id: DbId, body: schemas.AckIn | None = None
) -> schemas.AlertOut:
    note = body.note if body else ""
    return await change(runtime, viewer, alert_id, AlertStatus.ACKNOWLEDGED, note=note)


@router.post("/alerts/{alert_id}/resolve")
async def resolve(
    runtime: Runtime, viewer: CurrentViewer, alert_id: DbId, body: schemas.ResolveIn
) -> schemas.AlertOut:
    return await change(
        runtime,
        viewer,
        alert_id,
        AlertStatus.RESOLVED,
        note=body.note,
        disposition=body.disposition.value,
    )


async def change(
    runtime: Runtime,
    viewer: Viewer,
    alert_id: int,
    target: AlertStatus,
    *,
    note: str,
    disposition: str | None = None,
) -> schemas.AlertOut:
    if not viewer.can_write:
        raise HTTPException(403, "oversight accounts read but never change")
    now = datetime.now(UTC)
    async with runtime.pool.acquire() as conn, conn.transaction():
        alert = await alert_in_reach(conn, viewer, alert_id, lock=True)
        try:
            transition(alert.status, target)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        if target is AlertStatus.ACKNOWLEDGED:
            await store.acknowledge(
                conn, alert_id=alert_id, at=now, officer_id=viewer.id, note=note
            )
        else:
            await store.resolve(
                conn,
                alert_id=alert_id,
                at=now,
                officer_id=viewer.id,
                disposition=disposition or "",
                note=note,
            )
        changed = await alert_in_reach(conn, viewer, alert_id)
        await store.audit(
            conn, officer_id=viewer.id, action=f"alert.{target.value}", subject=f"alert:{alert_id}",
            details={"person_id": changed.person_id, "disposition": disposition},
        )  # fmt: skip
        event_type = (
            EventType.ALERT_ACKNOWLEDGED
            if target is AlertStatus.ACKNOWLEDGED
            else EventType.ALERT_RESOLVED
        )
        event = outbox.event_of(changed, event_type, {}, actor_officer_id=viewer.id)
        event_ids = await outbox.append_events(conn, events=[event])
    await publish(runtime.redis, runtime.pool, event_ids)
    return alert_out(changed)


@router.get("/persons/{person_id}/track")
async def person_track(
    runtime: Runtime,
    viewer: CurrentViewer,
    person_id: DbId,
    start: Instant | None = None,
    end: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[schemas.TrackPointOut]:
    """Fixes in [start, end) in time order, at most `limit` (ask one more than you show to
    know the range was cut), each judged against the allowed area. Every read of a person's
    positions is written to the audit log."""
    end = end or datetime.now(UTC)
    start = start or day_before(end)
    if start > end:
        raise invalid("start", "must not be after end")
    async with runtime.pool.acquire() as conn, conn.transaction():
        path = await store.person_path(conn, person_id=person_id)
        if path is None or not viewer.sees(path):
            raise HTTPException(404, f"person {person_id} not found")
        await store.audit(
            conn,
            officer_id=viewer.id,
            action="read_track",
            subject=f"person:{person_id}",
            details={"start": start.isoformat(), "end": end.isoformat()},
        )
        rows = await store.track(conn, person_id=person_id, start=start, end=end, limit=limit)
        fences = await track.allowed_fences(conn, person_id=person_id)
    areas = await track.areas_of(fences, rows)
    return [schemas.TrackPointOut(**dict(r), area=a) for r, a in zip(rows, areas, strict=True)]


def day_before(end: datetime) -> datetime:
    try:
        return end - timedelta(days=1)
    except OverflowError:  # the first day of year 1
        return end


@router.get("/positions/latest")
async def latest_positions(runtime: Runtime, viewer: CurrentViewer) -> list[schemas.PositionOut]:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.audit(
            conn,
            officer_id=viewer.id,
            action="read_latest_positions",
            subject=viewer.jurisdiction_path,
            details={},
        )
        rows = await track.latest_positions(conn, under_path=viewer.jurisdiction_path)
    return [
        schemas.PositionOut(
            person_id=r["person_id"],
            case_number=r["case_number"],
            supervision_level=r["supervision_level"],
            ts=r["last_ts"],
            lat=r["last_lat"],
            lon=r["last_lon"],
            status=r["status"],
        )
        for r in rows
    ]
