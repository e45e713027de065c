"""Wire shapes of the duty roster, notification channels and their deliveries.

Closed models: a field this API does not know is refused naming it (422), never dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alerts.bounds import DbId, Instant, Text
from alerts.models import AlertType
from monitor.registry.casework_schemas import MergePatch

# the longest shift: a roster of longer ones is a mistake (a week typed for a day)
MAX_SHIFT_DAYS = 7
MAX_URL_CHARS = 2000
ChannelEvent = Literal["opened", "escalated", "resolved"]
# superseded: news of an alert opening or escalating, not sent since the alert was resolved first
DeliveryStatus = Literal["pending", "delivered", "failed", "superseded"]


def webhook_url(url: str) -> str:
    """http(s) with a host, no spaces: anything else could not be POSTed to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http:// or https:// URL with a host, e.g. https://gw.example/hook")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts.port  # noqa: B018  (read for its check: a port outside 0..65535 raises)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        raise ValueError(f"not a URL a request can be sent to: {error}") from None
    return url


Url = Annotated[Text, Field(min_length=1, max_length=MAX_URL_CHARS), AfterValidator(webhook_url)]
Name = Annotated[Text, Field(min_length=1, max_length=200)]
AlertTypes = Annotated[
    list[AlertType],
    Field(max_length=len(AlertType), description="the alert types sent; empty: every type"),
]
Events = Annotated[
    list[ChannelEvent],
    Field(
        min_length=1,
        max_length=3,
        description="opened: alerts opened at this office's rung; escalated: alerts that "
        "escalated to it; resolved: those alerts closing",
    ),
]


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: DbId = Field(description="on duty: an officer who sees this office's alerts")
    starts_at: Instant
    ends_at: Instant = Field(description=f"after starts_at, at most {MAX_SHIFT_DAYS} days later")
    contact: Text = Field(
        default="", max_length=200, description="e.g. the duty phone the SMS gateway rings"
    )
    note: Text = Field(default="", max_length=1000)


class ShiftOut(BaseModel):
    id: int
    jurisdiction_id: int
    officer_id: int
    officer_name: str
    starts_at: datetime
    ends_at: datetime
    contact: str
    note: str
    created_by: int
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: int | None


class Office(BaseModel):
    id: int
    name: str
    level: str


class OnDuty(BaseModel):
    shift_id: int
    officer_id: int
    display_name: str
    contact: str
    starts_at: datetime
    ends_at: datetime


class DutyOut(BaseModel):
    """An office and who is on duty there at the time asked (empty: nobody)."""

    office: Office
    on_duty: list[OnDuty]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    url: Url
    alert_types: AlertTypes = []
    events: Events = ["opened", "escalated"]
    enabled: bool = True


class ChannelPatch(MergePatch):
    name: Name | None = None
    url: Url | None = None
    alert_types: AlertTypes | None = None
    events: Events | None = None
    enabled: bool | None = None


class ChannelOut(BaseModel):
    id: int
    jurisdiction_id: int
    name: str
    url: str
    alert_types: list[str]  # empty: every type
    events: list[str]
    enabled: bool
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class ChannelCreated(ChannelOut):
    secret: str = Field(description="the signing key, shown this once; rotate it if lost")


class SecretOut(BaseModel):
    id: int
    secret: str = Field(description="the new signing key, shown this once")


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    channel_id: int
    channel_name: str
    event_id: int | None
    event_type: str
    alert_id: int | None
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None  # None once delivered or failed
    delivered_at: datetime | None
    created_at: datetime
    receipts: list[AttemptOut]


def shift_bounds_error(starts_at: datetime, ends_at: datetime) -> str | None:
    if ends_at <= starts_at:
        return "ends_at: must be after starts_at"
    if (ends_at - starts_at).total_seconds() > MAX_SHIFT_DAYS * 86400:
        return f"ends_at: a shift lasts at most {MAX_SHIFT_DAYS} days; enter longer ones as several"
    return None


def channel_row(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["alert_types"] = data["alert_types"] or []
    return data
