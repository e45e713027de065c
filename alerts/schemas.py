"""Wire shapes of the officer alert API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from alerts.bounds import Text
from alerts.models import Disposition


class AckIn(BaseModel):
    note: Text = Field(default="", max_length=2000)


class ResolveIn(BaseModel):
    disposition: Disposition
    note: Text = Field(default="", max_length=2000)


class AlertOut(BaseModel):
    id: int
    person_id: int
    case_number: str
    jurisdiction_id: int
    type: str
    rule_key: str
    status: str
    escalation_level: str
    late: bool
    episode_id: str | None
    opened_at: datetime
    last_evidence_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    resolved_at: datetime | None
    resolved_by: int | None
    disposition: str | None
    note: str
    evidence_ping_ids: list[int]
    details: dict[str, Any]
    assigned_to: int | None
    assigned_to_name: str | None
    assigned_at: datetime | None
    assigned_by: int | None
    notes_count: int
    last_note_at: datetime | None
    # unresolved: when the next follow-up note is due (a day after the last, or the opening)
    followup_due_at: datetime | None
    followup_due: bool


class AlertRowOut(AlertOut):
    """A row of the officer's list: the alert, and what triage needs beside it."""

    full_name: str | None  # None when not recorded
    jurisdiction_name: str  # the district or street office
    supervision_level: str
    last_fix_at: datetime | None  # the person's latest fix judged, whatever alert it raised
    returned_at: datetime | None  # a person.returned closed this out_of_area episode


class AlertActionOut(BaseModel):
    id: int
    type: str
    actor_officer_id: int | None
    created_at: datetime
    # what an alert.updated did: assign, unassign, note (docs/decisions/0018); else None
    action: str | None = None
    assigned_to: int | None = None
    note_id: int | None = None


TrackArea = Literal["inside", "outside", "uncertain"]


class TrackPointOut(BaseModel):
    id: int
    ts: datetime
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None
    heading_deg: float | None
    battery_pct: float | None
    checkin: bool
    tamper: bool
    source: str | None
    # the fix against the person's allowed area as it is now (its accuracy circle wholly
    # inside, wholly outside, or across the edge); null when the person has no allowed area
    area: TrackArea | None = None


class PositionOut(BaseModel):
    person_id: int
    case_number: str
    supervision_level: str
    ts: datetime
    lat: float
    lon: float
    status: str | None
