"""Officer API for following alerts up (每日跟进): assign an alert to an officer, and keep
follow-up notes on it. Each change is audited and heard by every console as `alert.updated`.
docs/decisions/0018."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts import followup_store, outbox, store
from alerts.bounds import DbId, Offset, Text
from alerts.followup import refusal
from alerts.known_query import RefuseUnknownQuery
from alerts.models import Alert, AlertStatus, EventType, Viewer
from alerts.outbox import publish
from alerts.routes import CurrentViewer, Runtime, alert_in_reach, alert_out
from alerts.schemas import AlertOut
from pings.pg import Conn

router = APIRouter(prefix="/v1", tags=["alerts"])


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: DbId | None = Field(description="the officer to follow the alert up; null: nobody")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text = Field(min_length=1, max_length=2000)

    @field_validator("body")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say something: the note is blank")
        return value


class NoteOut(BaseModel):
    id: int
    alert_id: int
    officer_id: int
    officer_name: str
    body: str
    created_at: datetime


def refuse_writes(viewer: Viewer) -> None:
    if not viewer.can_write:
        raise HTTPException(403, "oversight accounts read but never change")


@router.post("/alerts/{alert_id}/assign")
async def assign(
    runtime: Runtime, viewer: CurrentViewer, alert_id: DbId, body: AssignIn
) -> AlertOut:
    """Gives the alert to an officer to follow up (`officer_id: null` takes it off them).
    The officer must be active, not oversight, see the alert, and be within your reach (or
    be you). A resolved alert is not assigned (409)."""
    refuse_writes(viewer)
    async with runtime.pool.acquire() as conn, conn.transaction():
        alert = await alert_in_reach(conn, viewer, alert_id, lock=True)
        if alert.status is AlertStatus.RESOLVED:
            raise HTTPException(
                409, f"alert {alert_id} is resolved: it is no longer assigned; add a note instead"
            )
        if body.officer_id == alert.assigned_to:
            return alert_out(alert)  # already so: nothing changes, nothing to hear
        await check_assignee(conn, viewer, alert, body.officer_id)
        await followup_store.assign(
            conn, alert_id=alert_id, officer_id=body.officer_id, at=datetime.now(UTC),
            by=viewer.id,
        )  # fmt: skip
        action = "assign" if body.officer_id else "unassign"
        await store.audit(
            conn, officer_id=viewer.id, action=f"alert.{action}", subject=f"alert:{alert_id}",
            details={"person_id": alert.person_id, "assigned_to": body.officer_id,
                     "previous": alert.assigned_to},
        )  # fmt: skip
        changed, event_ids = await updated(
            conn, viewer, alert_id, {"action": action, "assigned_to": body.officer_id}
        )
    await publish(runtime.redis, runtime.pool, event_ids)
    return alert_out(changed)


async def check_assignee(conn: Conn, viewer: Viewer, alert: Alert, officer_id: int | None) -> None:
    if officer_id is None:
        return
    assignee = await followup_store.get_assignee(conn, officer_id=officer_id)
    reason = refusal(viewer, assignee, alert.jurisdiction_path)
    if reason:
        raise RequestValidationError(
            [{"loc": ("body", "officer_id"), "msg": reason, "type": "value_error"}]
        )


async def updated(
    conn: Conn, viewer: Viewer, alert_id: int, what: dict[str, Any]
) -> tuple[Alert, list[int]]:
    """The alert as changed, and its `alert.updated` event (in the action history too)."""
    changed = await alert_in_reach(conn, viewer, alert_id)
    event = outbox.event_of(changed, EventType.ALERT_UPDATED, what, actor_officer_id=viewer.id)
    return changed, await outbox.append_events(conn, events=[event])


@router.post("/alerts/{alert_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(
    runtime: Runtime, viewer: CurrentViewer, alert_id: DbId, body: NoteIn
) -> NoteOut:
    """A follow-up note (at most 2,000 characters), on an alert of any status: what was done
    after resolution (a talk, a referral's outcome) belongs with the alert too."""
    refuse_writes(viewer)
    async with runtime.pool.acquire() as conn, conn.transaction():
        alert = await alert_in_reach(conn, viewer, alert_id, lock=True)
        note = await followup_store.insert_note(
            conn, alert_id=alert_id, officer_id=viewer.id, body=body.body
        )
        await store.audit(
            conn, officer_id=viewer.id, action="alert.note", subject=f"alert:{alert_id}",
            details={"person_id": alert.person_id, "note_id": note["id"]},
        )  # fmt: skip
        _, event_ids = await updated(
            conn, viewer, alert_id, {"action": "note", "note_id": note["id"]}
        )
    await publish(runtime.redis, runtime.pool, event_ids)
    return NoteOut(**dict(note))


@router.get("/alerts/{alert_id}/notes", dependencies=[RefuseUnknownQuery])
async def alert_notes(
    runtime: Runtime,
    viewer: CurrentViewer,
    alert_id: DbId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[NoteOut]:
    """The alert's follow-up notes, oldest first (`notes_count` on the alert says how many)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        alert = await alert_in_reach(conn, viewer, alert_id)
        await store.audit(  # notes tell where the person was found and what was done
            conn, officer_id=viewer.id, action="read_alert_notes", subject=f"alert:{alert_id}",
            details={"person_id": alert.person_id, "offset": offset},
        )  # fmt: skip
        rows = await followup_store.list_notes(conn, alert_id=alert_id, limit=limit, offset=offset)
    return [NoteOut(**dict(r)) for r in rows]
