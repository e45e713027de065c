"""Who may take an alert, and the list's `assigned_to` filter: pure rules, table-driven."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from alerts.followup import Assignee, AssigneeFilter, assignee_filter, refusal


@dataclass(frozen=True)
class Desk:
    id: int
    jurisdiction_path: str
    can_write: bool = True

    def sees(self, jurisdiction_path: str) -> bool:
        return jurisdiction_path.startswith(self.jurisdiction_path)


NORTH = Desk(7, "/1/2/")  # a district officer
ALERT = "/1/2/5/"  # an alert of a street under the district


@pytest.mark.parametrize(
    ("assignee", "refused"),
    [
        (Assignee(7, "officer", True, "/1/2/"), None),  # themselves
        (Assignee(8, "supervisor", True, "/1/2/5/"), None),  # the street below, sees it
        (Assignee(9, "officer", True, "/1/2/6/"), "cannot see it"),  # a sibling street
        (Assignee(10, "admin", True, "/1/"), "within your reach"),  # above the assigner
        (Assignee(11, "officer", True, "/1/3/"), "within your reach"),  # another district
        (Assignee(12, "officer", False, "/1/2/"), "disabled"),
        (Assignee(13, "oversight", True, "/1/2/"), "oversight"),
        (None, "within your reach"),
    ],
)
def test_who_may_take_the_alert(assignee: Assignee | None, refused: str | None) -> None:
    reason = refusal(NORTH, assignee, ALERT)
    assert (reason is None) if refused is None else (reason is not None and refused in reason)


def test_an_assigner_above_may_give_it_to_themselves_even_from_the_top() -> None:
    city = Desk(1, "/1/")
    assert refusal(city, Assignee(1, "admin", True, "/1/"), ALERT) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, AssigneeFilter()),
        ("me", AssigneeFilter(officer_id=7)),
        ("none", AssigneeFilter(unassigned=True)),
        ("42", AssigneeFilter(officer_id=42)),
        (str(2**63 - 1), AssigneeFilter(officer_id=2**63 - 1)),
    ],
)
def test_assigned_to_reads_an_id_me_or_none(value: str | None, expected: AssigneeFilter) -> None:
    assert assignee_filter(value, NORTH) == expected


def test_assigned_to_beyond_bigint_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        assignee_filter(str(2**63), NORTH)
