"""Who may follow an alert up: the rules of assignment, and the list's `assigned_to` filter.

Pure: the routes (alerts/followup_routes.py) read the rows and ask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from alerts.bounds import INT64_MAX
from alerts.models import Viewer

# `assigned_to=<officer id>|me|none` on GET /v1/alerts
AssignedTo = Annotated[
    str | None,
    Query(
        pattern=r"^(me|none|[1-9][0-9]{0,18})$",
        description="an officer's id, `me`, or `none` (nobody's)",
    ),
]


@dataclass(frozen=True)
class AssigneeFilter:
    officer_id: int | None = None
    unassigned: bool = False


def assignee_filter(value: str | None, viewer: Viewer) -> AssigneeFilter:
    """The filter the query asks for; an id beyond bigint is a ValueError."""
    if value is None:
        return AssigneeFilter()
    if value == "none":
        return AssigneeFilter(unassigned=True)
    officer_id = viewer.id if value == "me" else int(value)
    if officer_id > INT64_MAX:
        raise ValueError(f"must be at most {INT64_MAX}")
    return AssigneeFilter(officer_id=officer_id)


@dataclass(frozen=True)
class Assignee:
    """An officer as assignment sees them."""

    id: int
    role: str
    active: bool
    jurisdiction_path: str


def refusal(assigner: Viewer, assignee: Assignee | None, alert_path: str) -> str | None:
    """Why this officer cannot take the alert, or None: they must be within the assigner's
    reach (or be the assigner), active, able to write, and see the alert."""
    reachable = assignee is not None and (
        assignee.id == assigner.id or assigner.sees(assignee.jurisdiction_path)
    )
    if assignee is None or not reachable:
        return "no such officer within your reach"
    if not assignee.active:
        return f"officer {assignee.id}'s account is disabled"
    if assignee.role == "oversight":
        return f"officer {assignee.id} is an oversight account, which reads but never acts"
    if not alert_path.startswith(assignee.jurisdiction_path):
        return f"officer {assignee.id} works outside this alert's jurisdiction and cannot see it"
    return None
