"""Wire shapes of the registry API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from alerts.bounds import INT32_MAX, DbId, JsonObject, Text
from alerts.levels import Level

SupervisionLevel = Literal["strict", "normal", "lenient"]
JurisdictionLevel = Level  # ministry, province, city, district, street (alerts.levels)
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
    # moves with every change the evaluators read (fences, rules, permits too); the ETag
    revision: int = 0
    discharged_at: datetime | None = None  # 解矫: tracking ended, the record kept
    discharge_date: date | None = None
    discharge_reason: str | None = None


# Community Corrections Law art. 29: the five grounds for electronic positioning
PositioningBasis = Literal[
    "violated_court_prohibition",
    "left_residence_without_approval",
    "refused_to_report_after_warning",
    "public_security_penalty",
    "pending_revocation",
]
# information check (信息化核查, art. 26) rests on the supervision itself, for its term
InformationCheckBasis = Literal["supervision_term"]
OrderBasis = Literal[PositioningBasis, InformationCheckBasis]
BASIS_DOC = """The legal ground. electronic_positioning (art. 29), one of:
`violated_court_prohibition` 违反人民法院禁止令的;
`left_residence_without_approval` 无正当理由，未经批准离开所居住的市、县的;
`refused_to_report_after_warning` 拒不按照规定报告自己的活动情况，被给予警告的;
`public_security_penalty` 违反监督管理规定，被给予治安管理处罚的;
`pending_revocation` 拟提请撤销缓刑、假释或者暂予监外执行收监执行的.
information_check: `supervision_term` (信息化核查 for the term of supervision, art. 26)."""
NO_NUL = r"^[^\x00]*$"


class OrderIn(BaseModel):
    kind: OrderKind
    starts_at: datetime = Field(description="at most one day back, at most 31 days ahead")
    ends_at: datetime = Field(
        description="electronic_positioning: at most 92 days on; information_check: five years"
    )
    basis: OrderBasis = Field(description=BASIS_DOC)
    approved_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
    ] = Field(
        description="who approved it: the county-level justice bureau head "
        "(县级司法行政部门负责人)",
    )


class OrderOut(BaseModel):
    id: int
    person_id: int
    kind: OrderKind
    starts_at: datetime
    ends_at: datetime
    basis: str  # orders made before the grounds were checked keep what was written
    approved_by: str
    revoked_at: datetime | None
    revoked_by: int | None = None
    revoke_reason: str | None = None
    created_at: datetime


class RevokeIn(BaseModel):
    """解除: the order ends now; pings fixed after it are refused."""

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=NO_NUL)
    ]


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
    # the device's latest fix (listings only): its time, when it arrived, battery, tamper flag
    last_fix_at: datetime | None = None
    last_received_at: datetime | None = None
    battery_pct: float | None = None
    tamper: bool | None = None
    silent: bool | None = Field(
        default=None,
        description="listings only: active and its latest fix arrived longer ago than "
        "`silent_after_s`, or never heard",
    )
    silent_after_s: int | None = Field(
        default=None,
        description="listings only: 5 expected intervals, at least the level's floor "
        "(strict 5, normal 10, lenient 20 min), as the signal_lost timer judges",
    )


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
    retired_at: datetime | None = None  # given to no one new; see GET /v1/fences/{id}/persons


PersonStatusName = Literal["tamper", "outside", "silent", "inside", "unknown"]


class DeviceBriefOut(BaseModel):
    """One of a person's active devices in a persons-list row, with its latest fix."""

    device_id: str
    kind: DeviceKind
    battery_pct: float | None
    last_fix_at: datetime | None
    last_received_at: datetime | None
    silent: bool


class PersonRowOut(PersonOut):
    """A persons-list row: the person, and what the roster shows beside them."""

    status: PersonStatusName = Field(
        description="most urgent first: `tamper` (an unresolved tamper alert, not cleared by a "
        "refit), `outside` (the area status), `silent` (signal lost, not heard again), "
        "`inside` (located otherwise), `unknown` (never located)"
    )
    last_fix_at: datetime | None = Field(description="the latest fix judged")
    jurisdiction_name: str
    open_alerts: int = Field(description="alerts not resolved")
    device_count: int = Field(description="active (not revoked) devices")
    lowest_battery_pct: float | None = Field(
        description="the lowest battery among the active devices' latest fixes"
    )
    oldest_seen_at: datetime | None = Field(
        description="the earliest of the active devices' latest arrivals (null when none has "
        "been heard); a device never heard counts in `devices` with nulls"
    )
    devices: list[DeviceBriefOut]


class DeviceRowOut(DeviceOut):
    """A devices-list row: the device, its latest fix, and its person."""

    case_number: str
    supervision_level: SupervisionLevel
    jurisdiction_id: int
    jurisdiction_name: str
    silent: bool = Field(
        description="active and its latest fix arrived longer ago than 5 expected intervals "
        "(at least the level's floor: strict 5, normal 10, lenient 20 min), or never heard"
    )
