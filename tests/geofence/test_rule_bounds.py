"""Rule parameters beyond what the rules can mean are refused, naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from geofence.errors import InvalidInputError
from geofence.person_rules import parse_rules


def refusal(kind: str, params: dict[str, Any]) -> str:
    with pytest.raises(InvalidInputError) as caught:
        parse_rules("Asia/Shanghai", [{"id": 1, "kind": kind, "params": params}], [])
    return str(caught.value)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"exit_pings": 2**31}, "params.exit_pings"),
        ({"exit_min_s": 1e300}, "params.exit_min_s"),
        ({"return_pings": float("inf")}, "params.return_pings"),
        ({"exit_min_s": float("nan")}, "params.exit_min_s"),
    ],
)
def test_thresholds_fit_a_postgresql_integer(params: dict[str, Any], field: str) -> None:
    assert refusal("thresholds", params).startswith(f"{field}: ")


def test_a_curfew_names_a_fence_by_a_bigint_id() -> None:
    params = {"fence_id": 2**63, "start": "22:00", "end": "06:00"}
    assert refusal("curfew", params).startswith("params.fence_id: ")


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_suspension_outside_the_years_python_converts_is_refused(instant: str) -> None:
    params = {"starts_at": instant, "ends_at": "2026-01-01T00:00:00+08:00"}
    assert refusal("suspension", params).startswith("params.starts_at: ")
