"""Report inputs: a date is local midnight in the report's zone, an instant keeps its
offset, months run between local midnights; CSV cells never start a formula."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.exceptions import RequestValidationError

from monitor.reports.csv_out import cell, rows_to_csv
from monitor.reports.params import date_or_instant, month_period, period


def field_of(error: pytest.ExceptionInfo[RequestValidationError]) -> str:
    return str(error.value.errors()[0]["loc"][1])


def test_a_date_is_local_midnight_and_an_instant_keeps_its_offset() -> None:
    assert date_or_instant("2026-10-01") == date(2026, 10, 1)
    span = period(date(2026, 10, 1), date_or_instant("2026-10-02T00:00:00+08:00"), "Asia/Shanghai")
    assert span.start == span.end.replace(day=30, month=9) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert span.label() == "2026-10-01_2026-10-02"
    with pytest.raises(ValueError, match="offset"):
        date_or_instant("2026-10-01T08:00:00")


def test_a_period_is_ordered_and_bounded() -> None:
    with pytest.raises(RequestValidationError) as reversed_:
        period(date(2026, 10, 2), date(2026, 10, 1), "UTC")
    assert field_of(reversed_) == "to"
    with pytest.raises(RequestValidationError) as long:
        period(date(2025, 1, 1), date(2026, 2, 6), "UTC")  # 401 days
    assert field_of(long) == "to"
    assert period(date(2025, 1, 1), date(2026, 2, 5), "UTC").tz == "UTC"  # 400 days pass
    with pytest.raises(RequestValidationError) as zone:
        period(date(2026, 1, 1), date(2026, 1, 2), "Mars/Olympus_Mons")
    assert field_of(zone) == "tz"


def test_a_month_runs_between_local_midnights() -> None:
    december = month_period("2026-12", "Asia/Shanghai")
    assert december.start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert december.end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "0000-01", "9999-12"):
        with pytest.raises(RequestValidationError):
            month_period(bad, "UTC")


def test_csv_cells_never_start_a_formula() -> None:
    assert [cell(v) for v in ("=1+1", "+1", "-1", "@SUM", "Zhang", None, True)] == [
        "'=1+1", "'+1", "'-1", "'@SUM", "Zhang", "", "true"
    ]  # fmt: skip
    assert rows_to_csv(["a", "b"], [{"a": 1, "b": "x,y"}]) == 'a,b\r\n1,"x,y"\r\n'
