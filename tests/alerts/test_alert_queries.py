"""The alert list's orders: every alert type has an urgency, and severity's SQL names each."""

from __future__ import annotations

import re
from pathlib import Path

from alerts.models import AlertType
from alerts.queries import LIST_TRIAGE, TYPE_URGENCY, AlertSort

TRIAGE_JS = Path(__file__).parents[2] / "monitor" / "static" / "triage.js"


def test_every_alert_type_has_an_urgency_in_the_sql() -> None:
    assert set(TYPE_URGENCY) == set(AlertType)
    for alert_type, urgency in TYPE_URGENCY.items():
        assert f"WHEN '{alert_type.value}' THEN {urgency}" in LIST_TRIAGE[AlertSort.SEVERITY]


def test_the_console_orders_live_events_as_the_server_does() -> None:
    table = re.search(r"const URGENCY = \{([^}]*)\}", TRIAGE_JS.read_text())
    assert table is not None
    pairs = dict(re.findall(r"(\w+): (\d)", table.group(1)))
    assert {t.value: str(n) for t, n in TYPE_URGENCY.items()} == pairs
