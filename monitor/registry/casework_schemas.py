"""Wire shapes of a person's casework: a change to the record, its history, the discharge.

Closed models (`extra="forbid"`): a field this API does not know is refused naming it, never
dropped, so a misspelt `supervison_level` cannot look like a change that was made.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from alerts.bounds import DbId, Text
from monitor.registry.schemas import MAX_FENCE_IDS, NO_NUL, PersonOut, SupervisionLevel

Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=NO_NUL)
]


class MergePatch(BaseModel):
    """JSON merge patch (RFC 7396) of a record: only the fields given change. None of the
    record's fields may be removed, so `null` is refused naming the field; an unknown field is
    refused naming it."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        """Validators run only on values given, so this refuses an explicit null alone."""
        if value is None:
            raise ValueError("may not be null: leave the field out to keep it")
        return value


class PersonPatch(MergePatch):
    """A change to a person's record, with the reason kept in its history."""

    case_number: Text | None = Field(default=None, min_length=1, max_length=100)
    full_name: Text | None = Field(default=None, max_length=200)
    supervision_level: SupervisionLevel | None = Field(
        default=None, description="三色 reclassification: strict 严管, normal 普管, lenient 宽管"
    )
    jurisdiction_id: DbId | None = Field(
        default=None,
        description="执行地变更: the street office taking the person over, within your reach; "
        "the person's open alerts move with them",
    )
    timezone: Text | None = Field(default=None, max_length=100, description="an IANA zone")
    allowed_fence_ids: list[DbId] | None = Field(
        default=None, min_length=1, max_length=MAX_FENCE_IDS
    )
    exclusion_fence_ids: list[DbId] | None = Field(default=None, max_length=MAX_FENCE_IDS)
    reason: Reason | None = Field(
        default=None, description="why, kept in the history (e.g. the monthly assessment)"
    )

    def given(self) -> dict[str, Any]:
        """The record's fields this patch sets (the reason is not one of them)."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "reason"}


class FieldChange(BaseModel):
    old: Any
    new: Any


class PersonHistoryOut(BaseModel):
    id: int
    person_id: int
    at: dt.datetime
    officer_id: int | None
    action: str  # update | discharge
    changes: dict[str, FieldChange]
    reason: str


class DischargeIn(BaseModel):
    """解矫: supervision ends. Its monitoring orders are revoked, devices released, open
    alerts closed and leave permits cancelled; the record and its history are kept."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="e.g. 期满解矫 (the term served), 收监 (committed)")
    date: dt.date = Field(description="the date supervision ended, in the person's time zone")


class DischargeOut(BaseModel):
    person: PersonOut
    revoked_order_ids: list[int]
    revoked_device_ids: list[str]
    closed_alert_ids: list[int]
    cancelled_permit_ids: list[int]
