"""Wire shapes of the registry API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from alerts.bounds import INT32_MAX, DbId, Instant, JsonObject, Text

SupervisionLevel = Literal["strict", "normal", "lenient"]
JurisdictionLevel = Literal["city", "district", "street"]
OrderKind = Literal["electronic_positioning", "information_check"]
DeviceKind = Literal["phone", "wrist", "ankle"]
FenceRole = Literal["allowed", "exclusion"]
CrsName = Literal["wgs84", "gcj02", "bd09"]


# ids a person may name at once: far more fences than any real person has
MAX_FENCE_IDS = 1000


class JurisdictionIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    level: JurisdictionLevel
    parent_id: DbId | None = None
    code: Text | None = Field(default=None, max_length=100)


class JurisdictionOut(JurisdictionIn):
    id: int
    path: str
    code: str | None = None  # as stored: rows made before the input's bounds stay readable


class PersonIn(BaseModel):
    case_number: Text = Field(min_length=1, max_length=100)
    supervision_level: SupervisionLevel
    allowed_fence_ids: list[DbId] = Field(min_length=1, max_length=MAX_FENCE_IDS)
    exclusion_fence_ids: list[DbId] = Field(default=[], max_length=MAX_FENCE_IDS)
    jurisdiction_id: DbId | None = None
    full_name: Text = Field(default="", max_length=200)
    timezone: Text = Field(default="Asia/Shanghai", max_length=100)


class PersonOut(BaseModel):
    id: int
    case_number: str
    full_name: str
    supervision_level: SupervisionLevel
    jurisdiction_id: int
    timezone: str
    allowed_fence_ids: list[int]
    exclusion_fence_ids: list[int]
    created_at: datetime


class OrderIn(BaseModel):
    kind: OrderKind
    starts_at: Instant
    ends_at: Instant
    basis: Text = Field(default="", max_length=500)
    approved_by: Text = Field(default="", max_length=200)


class OrderOut(OrderIn):
    id: int
    person_id: int
    basis: str  # as stored: rows made before the input's bounds stay readable
    approved_by: str
    revoked_at: datetime | None
    created_at: datetime


class LapsingOrderOut(BaseModel):
    """A live order ending within the notice period, not renewed (also the payload of the
    `order.lapsing` WebSocket event)."""

    order_id: int
    person_id: int
    case_number: str
    jurisdiction_id: int
    kind: OrderKind
    starts_at: datetime
    ends_at: datetime


class DeviceIn(BaseModel):
    person_id: DbId
    kind: DeviceKind
    device_id: Text | None = Field(default=None, min_length=1, max_length=100)
    expected_interval_s: int = Field(default=60, gt=0, le=INT32_MAX)
    identifier_only: bool = False


class DeviceOut(BaseModel):
    id: str
    device_id: str
    person_id: int
    kind: DeviceKind
    expected_interval_s: int
    identifier_only: bool
    created_at: datetime
    revoked_at: datetime | None = None
    # shown once, at enrolment or rotation; only its hash is kept
    token: str | None = None


class FenceIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    role: FenceRole
    crs: CrsName = "wgs84"
    geometry: JsonObject
    properties: JsonObject = {}
    jurisdiction_id: DbId | None = None


class FenceOut(BaseModel):
    id: int
    name: str
    role: FenceRole
    crs: CrsName
    properties: dict[str, Any]
    jurisdiction_id: int | None
    version: int
    created_at: datetime
    warnings: list[str] = []
    geometry: dict[str, Any] | None = None
