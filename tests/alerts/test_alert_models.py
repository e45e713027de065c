"""Alert status transitions: legal ones pass, illegal ones raise with the reason."""

from __future__ import annotations

import pytest

from alerts.models import AlertStatus, IllegalTransitionError, transition


def test_legal_transitions() -> None:
    assert transition(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED) is AlertStatus.ACKNOWLEDGED
    assert transition(AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED) is AlertStatus.RESOLVED
    assert transition(AlertStatus.ESCALATED, AlertStatus.ACKNOWLEDGED) is AlertStatus.ACKNOWLEDGED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (AlertStatus.RESOLVED, AlertStatus.OPEN),
        (AlertStatus.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED),
        (AlertStatus.RESOLVED, AlertStatus.ACKNOWLEDGED),
    ],
)
def test_illegal_transitions(current: AlertStatus, target: AlertStatus) -> None:
    with pytest.raises(IllegalTransitionError, match=r"^status: "):
        transition(current, target)
