"""Officer reports against a known week of history (tests/e2e/report_history.py): every
figure equals one worked out by hand, in JSON and CSV; an officer sees only their subtree;
bad dates, spans, zones, ids and parameters are refused naming the field; the holiday sweep,
which names persons, is audited."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Live, Officer
from tests.e2e.report_history import History, local, seed
from tests.e2e.test_registry import bearer

pytestmark = pytest.mark.slow

HOLIDAY = {"from": "2026-10-01", "to": "2026-10-08"}  # Shanghai days, the 8th excluded


@pytest.fixture
async def history(live: Live, officer: Officer, pool: asyncpg.Pool) -> History:
    async with httpx.AsyncClient(base_url=live.base_url) as client, pool.acquire() as conn:
        return await seed(client, conn, officer)


@pytest.fixture
async def admin(live: Live, officer: Officer) -> AsyncIterator[httpx.AsyncClient]:
    """The city's admin: sees both districts."""
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(officer.token)) as c:
        yield c


async def report(client: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    reply = await client.get(f"/v1/reports/{name}", params=params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = reply.json()
    return found


def table(rows: list[dict[str, Any]], *columns: str) -> set[tuple[Any, ...]]:
    return {tuple(r[c] for c in columns) for r in rows}


async def test_alerts_counted_by_local_day_office_and_type(
    admin: httpx.AsyncClient, history: History
) -> None:
    h = history
    found = await report(admin, "alerts", **HOLIDAY)
    assert found["tz"] == "Asia/Shanghai" and found["jurisdiction_id"] != h.north
    assert datetime.fromisoformat(found["start"]) == local(10, 1)
    assert table(found["rows"], "day", "jurisdiction_id", "type", "alerts") == {
        ("2026-10-01", h.north, "out_of_area", 1),  # a5 opened the evening before: not here
        ("2026-10-02", h.north, "out_of_area", 1),  # 07:30 Shanghai
        ("2026-10-02", h.north, "low_battery", 1),
        ("2026-10-02", h.north, "missed_checkin", 1),
        ("2026-10-03", h.north, "out_of_area", 1),
        ("2026-10-06", h.north, "missed_checkin", 1),
        ("2026-10-01", h.south, "out_of_area", 1),
        ("2026-10-04", h.south, "overdue_return", 1),
    }
    # the same instants, days counted in UTC: 07:30 on the 2nd in Shanghai is the 1st
    utc = await report(
        admin, "alerts", tz="UTC",
        **{"from": "2026-10-01T00:00:00+08:00", "to": "2026-10-08T00:00:00+08:00"},
    )  # fmt: skip
    assert ("2026-10-01", h.north, "out_of_area", 2) in table(
        utc["rows"], "day", "jurisdiction_id", "type", "alerts"
    )


async def test_response_times_median_and_p90_per_type_and_office(
    admin: httpx.AsyncClient, history: History
) -> None:
    h = history
    rows = (await report(admin, "response-times", **HOLIDAY))["rows"]
    by = {(r["jurisdiction_id"], r["type"]): r for r in rows}
    # acknowledged after 60, 120, 180 s; resolved after 600, 1200, 1800 s (a5 opened before)
    assert by[(h.north, "out_of_area")] == {
        "type": "out_of_area", "jurisdiction_id": h.north, "jurisdiction_name": "north",
        "alerts": 3, "acknowledged": 3, "ack_median_s": 120.0, "ack_p90_s": 168.0,
        "resolved": 3, "resolve_median_s": 1200.0, "resolve_p90_s": 1680.0,
        "resolved_by_system": 0,
    }  # fmt: skip
    battery = by[(h.north, "low_battery")]
    assert (battery["acknowledged"], battery["ack_median_s"], battery["resolved"]) == (1, 300, 0)
    assert battery["resolve_median_s"] is None
    checkin = by[(h.north, "missed_checkin")]
    assert (checkin["alerts"], checkin["acknowledged"], checkin["resolved"]) == (2, 0, 0)
    assert checkin["resolved_by_system"] == 1, "auto_cleared is no officer's resolution"
    south = by[(h.south, "out_of_area")]
    assert (south["ack_median_s"], south["resolve_p90_s"]) == (30.0, 90.0)


async def test_dispositions_of_alerts_resolved_in_the_period(
    admin: httpx.AsyncClient, history: History
) -> None:
    h = history
    rows = (await report(admin, "dispositions", **HOLIDAY))["rows"]
    assert table(rows, "jurisdiction_id", "disposition", "alerts") == {
        (h.north, "verbal_reminder", 1),
        (h.north, "warning", 1),
        (h.north, "admonition", 1),
        (h.north, "false_alarm", 1),  # a5: opened before the holiday, resolved in it
        (h.north, "auto_cleared", 1),
        (h.south, "false_alarm", 1),
    }


async def test_missed_checkin_alarm_rate(admin: httpx.AsyncClient, history: History) -> None:
    """Li: 7 windows, the 4th suspended: 6 due, 3 missed. Zhang: windows from the 5th, his
    order ends at noon on the 6th: 1 due (the 5th). North: 3 of 7."""
    h = history
    found = await report(admin, "checkin-rate", **HOLIDAY)
    assert found["rows"] == [
        {"jurisdiction_id": h.north, "jurisdiction_name": "north", "windows_due": 7,
         "windows_missed": 3, "alerts_opened": 2, "alarm_rate": 0.428571},
    ]  # fmt: skip
    assert found["totals"] == {
        "windows_due": 7, "windows_missed": 3, "alerts_opened": 2, "alarm_rate": 0.428571
    }  # fmt: skip
    # the first two days: both of Li's windows missed, Zhang's rule not yet made
    early = await report(admin, "checkin-rate", **{"from": "2026-10-02", "to": "2026-10-04"})
    assert early["totals"]["windows_due"] == 2 and early["totals"]["alarm_rate"] == 1.0


async def test_holiday_sweep_names_who_left_when_and_for_how_long_and_is_audited(
    admin: httpx.AsyncClient, history: History, pool: asyncpg.Pool, officer: Officer
) -> None:
    h, a = history, history.alerts
    rows = (await report(admin, "holiday-sweep", **HOLIDAY))["rows"]
    assert [r["alert_id"] for r in rows] == [a["a5"], a["a1"], a["b1"], a["a2"], a["a4"], a["b2"]]
    by = {r["alert_id"]: r for r in rows}
    assert by[a["a5"]]["away_s"] == 6 * 3600, "left the evening before, back at 02:00"
    assert by[a["a1"]]["away_s"] == 2 * 3600 and by[a["a4"]]["away_s"] == 45 * 60
    assert by[a["b2"]]["away_s"] == 3 * 3600, "overdue: back when the permit was closed"
    assert by[a["b2"]]["type"] == "overdue_return" and by[a["b2"]]["person_id"] == h.wang
    assert by[a["a2"]]["back_at"] is None, "resolved before he was judged back"
    assert by[a["a1"]]["full_name"] == "Zhang San" and by[a["a1"]]["jurisdiction_name"] == "north"
    async with pool.acquire() as conn:
        audited = await conn.fetchrow(
            "SELECT a.details, a.subject FROM audit_log a JOIN officers o ON o.id = a.officer_id "
            "WHERE o.username = $1 AND a.action = 'read_holiday_sweep' ORDER BY a.id DESC LIMIT 1",
            officer.username,
        )
    assert audited is not None, "a report naming persons from their positions is audited"
    assert audited["details"]["person_ids"] == sorted({h.zhang, h.wang})
    assert datetime.fromisoformat(audited["details"]["start"]) == local(10, 1)


IDENTITY = ("under_order_at_start", "placed", "transferred_in", "transferred_out", "released",
            "under_order_at_end")  # fmt: skip


def reconciles(row: dict[str, Any]) -> bool:
    start, placed, moved_in, moved_out, released, end = (row[c] for c in IDENTITY)
    return bool(start + placed + moved_in - moved_out - released == end)


async def test_monthly_roster_reconciles_intake_release_and_transfers(
    admin: httpx.AsyncClient, history: History
) -> None:
    """October, by hand: Zhao, created in north on the 3rd under an order from the 5th, moved
    to south on the 15th; Sun, created in south on the 2nd under no order, moved to north on
    the 16th. Zhang and Li are under orders all month in north; Wang's order in south begins
    and is revoked within it."""
    h = history
    rows = (await report(admin, "roster", month="2026-10"))["rows"]
    by = {r["jurisdiction_id"]: r for r in rows}
    assert by[h.north] | {"jurisdiction_name": ""} == {
        "jurisdiction_id": h.north, "jurisdiction_name": "", "level": "district",
        "persons_created": 1,  # Zhao, in north then; Sun was created in south
        "orders_started": 2,  # Zhang's second, Zhao's (before his move)
        "orders_ended": 1, "orders_revoked": 0,
        "under_order_at_start": 2,  # Zhang, Li
        "placed": 1,  # Zhao, who then left under his order
        "transferred_in": 0,  # Sun came under no order
        "transferred_out": 1,  # Zhao
        "released": 0,
        "under_order_at_end": 2,  # Zhang, Li
        "persons_on_record": 3,  # Zhang, Li, Sun
    }  # fmt: skip
    assert by[h.south] | {"jurisdiction_name": ""} == {
        "jurisdiction_id": h.south, "jurisdiction_name": "", "level": "district",
        "persons_created": 2,  # Wang, Sun
        "orders_started": 1, "orders_ended": 0, "orders_revoked": 1,  # Wang's
        "under_order_at_start": 0, "placed": 0, "transferred_in": 1,  # Zhao
        "transferred_out": 0, "released": 0,
        "under_order_at_end": 1,  # Zhao
        "persons_on_record": 2,  # Wang, Zhao
    }  # fmt: skip
    assert rows[0]["level"] == "city" and rows[0]["persons_on_record"] == 0
    september = {
        r["jurisdiction_id"]: r for r in (await report(admin, "roster", month="2026-09"))["rows"]
    }
    assert september[h.north]["persons_created"] == 1  # Zhang; Li came on 31 August
    # Li's order began at the first instant of September: under it at the start already
    assert september[h.north]["orders_started"] == 2
    assert (september[h.north]["under_order_at_start"], september[h.north]["placed"]) == (1, 1)
    assert september[h.north]["persons_on_record"] == 2  # Sun and Zhao came in October
    assert september[h.south]["persons_on_record"] == 0
    for row in [*rows, *september.values()]:
        assert reconciles(row), row
    reply = await admin.get("/v1/reports/roster", params={"month": "2026-10", "format": "csv"})
    head, *lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert head[head.index("placed") : head.index("under_order_at_end") + 1] == [*IDENTITY[1:]]
    south = next(dict(zip(head, line, strict=True)) for line in lines if line[0] == str(h.south))
    assert {c: south[c] for c in IDENTITY} == {c: str(by[h.south][c]) for c in IDENTITY}
    assert reply.headers["content-disposition"].endswith('roster_2026-10-01_2026-11-01.csv"')


async def test_csv_has_a_header_row_and_a_filename(
    admin: httpx.AsyncClient, history: History
) -> None:
    h = history
    reply = await admin.get("/v1/reports/alerts", params={**HOLIDAY, "format": "csv"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["content-disposition"] == (
        'attachment; filename="alerts_by_day_2026-10-01_2026-10-08.csv"'
    )
    lines = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert lines[0] == ["day", "jurisdiction_id", "jurisdiction_name", "type", "alerts"]
    assert ["2026-10-04", str(h.south), "south", "overdue_return", "1"] in lines
    assert len(lines) == 1 + 8
    # Accept: text/csv asks for the same; a name starting with "=" stays text
    sweep = await admin.get(
        "/v1/reports/holiday-sweep", params=HOLIDAY, headers={"Accept": "text/csv"}
    )
    assert sweep.headers["content-disposition"].endswith('holiday_sweep_2026-10-01_2026-10-08.csv"')
    rates = await admin.get("/v1/reports/checkin-rate", params={**HOLIDAY, "format": "csv"})
    head, north = list(csv.reader(io.StringIO(rates.content.decode("utf-8-sig"))))
    assert dict(zip(head, north, strict=True))["alarm_rate"] == "0.428571"


async def test_a_name_a_spreadsheet_would_run_is_written_as_text(
    admin: httpx.AsyncClient, history: History, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE jurisdictions SET name = '=HYPERLINK(1)' WHERE id = $1", history.south
        )
    reply = await admin.get("/v1/reports/dispositions", params={**HOLIDAY, "format": "csv"})
    assert ",'=HYPERLINK(1),false_alarm,1" in reply.text


async def test_an_officer_sees_only_their_subtree(history: History, live: Live) -> None:
    h = history
    async with httpx.AsyncClient(base_url=live.base_url, headers=h.south_officer) as south:
        for name in ("alerts", "response-times", "dispositions", "holiday-sweep"):
            rows = (await report(south, name, **HOLIDAY))["rows"]
            assert rows and {r["jurisdiction_id"] for r in rows} == {h.south}, name
        assert (await report(south, "checkin-rate", **HOLIDAY))["rows"] == []
        roster = (await report(south, "roster", month="2026-10"))["rows"]
        assert [r["jurisdiction_id"] for r in roster] == [h.south]
        answers = []
        for jurisdiction_id in (h.north, 2**63 - 1):
            for name in ("alerts", "holiday-sweep"):
                reply = await south.get(
                    f"/v1/reports/{name}", params={**HOLIDAY, "jurisdiction_id": jurisdiction_id}
                )
                assert reply.status_code == 404 and reply.json()["field"] == "jurisdiction_id"
                answers.append(reply.text.replace(str(jurisdiction_id), "ID"))
        assert len(set(answers)) == 1, "another district's id answers as a missing one"
    async with httpx.AsyncClient(base_url=live.base_url, headers=h.north_officer) as north:
        narrowed = await report(north, "dispositions", jurisdiction_id=h.north, **HOLIDAY)
        assert {r["jurisdiction_id"] for r in narrowed["rows"]} == {h.north}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30", "to": "2026-03-02"}, "from"),
        ({"from": "2026-10-08", "to": "2026-10-01"}, "to"),
        ({"from": "2026-10-01", "to": "2026-10-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-02-06"}, "to"),  # 401 days
        ({"from": "2026-10-01T08:00:00", "to": "2026-10-02"}, "from"),  # no offset
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),  # year 0 in UTC
        ({"to": "2026-10-02"}, "from"),
        ({**HOLIDAY, "tz": "Mars/Olympus_Mons"}, "tz"),
        ({**HOLIDAY, "tz": "Asia/Shanghai\x00"}, "tz"),
        ({**HOLIDAY, "jurisdiction_id": 2**63}, "jurisdiction_id"),
        ({**HOLIDAY, "jurisdiction_id": 0}, "jurisdiction_id"),
        ({**HOLIDAY, "format": "xlsx"}, "format"),
        ({**HOLIDAY, "jurisdiction": 1}, "jurisdiction"),  # misspelt: refused, not ignored
    ],
)
async def test_bad_inputs_are_refused_naming_the_field(
    admin: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    reply = await admin.get("/v1/reports/alerts", params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field


async def test_the_checkin_rate_spans_a_quarter_at_most(admin: httpx.AsyncClient) -> None:
    quarter = await admin.get(
        "/v1/reports/checkin-rate", params={"from": "2026-07-01", "to": "2026-10-01"}
    )
    assert quarter.status_code == 200, quarter.text
    longer = await admin.get(
        "/v1/reports/checkin-rate", params={"from": "2026-07-01", "to": "2026-10-02"}
    )
    assert longer.status_code == 422 and longer.json()["field"] == "to"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"month": "2026-13"}, "month"), ({"month": "26-10"}, "month"),
     ({"month": "9999-12"}, "month"), ({"month": "2026-10", "from": "2026-10-01"}, "from"),
     ({"month": "2026-10", "limit": 5}, "limit")],
)  # fmt: skip
async def test_bad_months_are_refused_naming_the_field(
    admin: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    reply = await admin.get("/v1/reports/roster", params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field


async def test_reports_need_a_login(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        reply = await client.get("/v1/reports/alerts", params=HOLIDAY)
    assert reply.status_code == 401
