"""Alert vocabulary: types, statuses with their legal transitions, dispositions, viewers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class AlertType(StrEnum):
    OUT_OF_AREA = "out_of_area"
    EXCLUSION_ZONE = "exclusion_zone"
    CURFEW = "curfew"
    SIGNAL_LOST = "signal_lost"
    OVERDUE_RETURN = "overdue_return"
    MISSED_CHECKIN = "missed_checkin"
    TAMPER = "tamper"
    LOW_BATTERY = "low_battery"
    DEVICE_SEPARATION = "device_separation"  # a band far from the phone (人机分离)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class IllegalTransitionError(ValueError):
    pass


ALLOWED = {
    AlertStatus.OPEN: {AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED, AlertStatus.RESOLVED},
    AlertStatus.ESCALATED: {AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED, AlertStatus.RESOLVED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: set(),
}


def transition(current: AlertStatus, target: AlertStatus) -> AlertStatus:
    if target not in ALLOWED[current]:
        raise IllegalTransitionError(f"status: an alert that is {current} cannot become {target}")
    return target


class Disposition(StrEnum):
    FALSE_ALARM = "false_alarm"
    VERBAL_REMINDER = "verbal_reminder"
    ADMONITION = "admonition"  # 训诫
    WARNING = "warning"  # 警告
    PUBLIC_SECURITY_REFERRAL = "public_security_referral"
    REVOCATION_REFERRAL = "revocation_referral"  # 撤销缓刑/假释, 收监


class EventType(StrEnum):
    ALERT_OPENED = "alert.opened"
    ALERT_UPDATED = "alert.updated"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_ESCALATED = "alert.escalated"
    ALERT_RESOLVED = "alert.resolved"
    PERSON_RETURNED = "person.returned"
    # 执行地变更: sent to the office the person left, naming the alerts that moved with them
    PERSON_TRANSFERRED = "person.transferred"
    ORDER_LAPSING = "order.lapsing"  # a monitoring order ends soon and was not renewed
    POSITION = "position"


class Viewer(Protocol):
    """Who is asking: monitor's Officer satisfies this; alerts never imports monitor."""

    @property
    def id(self) -> int: ...

    @property
    def jurisdiction_path(self) -> str: ...

    @property
    def can_write(self) -> bool: ...

    def sees(self, jurisdiction_path: str) -> bool: ...


WIRE_TIMES = (
    "opened_at",
    "last_evidence_at",
    "acknowledged_at",
    "resolved_at",
    "assigned_at",
    "last_note_at",
    "followup_due_at",
)


@dataclass(frozen=True)
class Alert:
    id: int
    person_id: int
    case_number: str
    jurisdiction_id: int
    jurisdiction_path: str
    type: AlertType
    rule_key: str
    status: AlertStatus
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
    # who follows the alert up, and how (docs/decisions/0018)
    assigned_to: int | None
    assigned_to_name: str | None  # the assignee's display name, else username
    assigned_at: datetime | None
    assigned_by: int | None
    notes_count: int
    last_note_at: datetime | None
    # a day after the last note (or the opening); None once resolved
    followup_due_at: datetime | None
    followup_due: bool  # as of the answer: unresolved and no note for a day

    def to_wire(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data.pop("jurisdiction_path")
        for key in WIRE_TIMES:
            data[key] = data[key].isoformat() if data[key] is not None else None
        data["type"], data["status"] = self.type.value, self.status.value
        return data


@dataclass(frozen=True)
class NewEvent:
    """An event to write in the same transaction as the change it reports."""

    type: EventType
    person_id: int | None
    jurisdiction_id: int
    jurisdiction_path: str
    payload: dict[str, Any]
    alert_id: int | None = None
    actor_officer_id: int | None = None
