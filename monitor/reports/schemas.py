"""Wire shapes of the reports: one row model each (its fields are the CSV's columns, in
order) inside one envelope saying what was counted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

Format = Literal["json", "csv"]
Row = TypeVar("Row", bound=BaseModel)


class Report(BaseModel, Generic[Row]):
    report: str
    start: datetime  # the period, [start, end), as instants
    end: datetime
    tz: str  # the IANA zone days and months are counted in
    jurisdiction_id: int  # the subtree reported on
    generated_at: datetime
    rows: list[Row]
    totals: dict[str, Any] | None = None


class AlertCountRow(BaseModel):
    day: date
    jurisdiction_id: int
    jurisdiction_name: str
    type: str
    alerts: int


class ResponseTimeRow(BaseModel):
    type: str
    jurisdiction_id: int
    jurisdiction_name: str
    alerts: int
    acknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolved: int  # by an officer
    resolve_median_s: float | None
    resolve_p90_s: float | None
    resolved_by_system: int  # auto_cleared: a late check-in proved the alert false


class DispositionRow(BaseModel):
    jurisdiction_id: int
    jurisdiction_name: str
    disposition: str
    alerts: int


class CheckinRateRow(BaseModel):
    jurisdiction_id: int
    jurisdiction_name: str
    windows_due: int
    windows_missed: int
    alerts_opened: int
    alarm_rate: float | None  # windows_missed / windows_due


class SweepRow(BaseModel):
    alert_id: int
    type: str
    person_id: int
    case_number: str
    full_name: str | None
    jurisdiction_id: int
    jurisdiction_name: str
    left_at: datetime
    back_at: datetime | None  # null: not judged back while the alert was open
    away_s: float  # to back_at, or to generated_at when not back
    late: bool
    status: str
    disposition: str | None


class RosterRow(BaseModel):
    jurisdiction_id: int
    jurisdiction_name: str
    level: str
    persons_created: int
    orders_started: int
    orders_ended: int  # ran their term
    orders_revoked: int  # 解除 before their term
    under_order_at_start: int
    placed: int  # came under an order here in the month, other than by a transfer
    transferred_in: int  # moved here in the month while under an order
    transferred_out: int  # moved away in the month while under an order
    released: int  # left an order here in the month, other than by a transfer
    under_order_at_end: int
    persons_on_record: int
