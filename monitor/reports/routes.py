"""Officer reports under /v1/reports: JSON by default, CSV for `format=csv` or
`Accept: text/csv`. Every report is limited to the officer's jurisdiction subtree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from alerts import store as alert_store
from alerts.bounds import DbId, Text
from alerts.known_query import RefuseUnknownQuery
from monitor.auth.models import Officer
from monitor.deps import Ctx, CurrentOfficer
from monitor.errors import NotFoundError
from monitor.registry import store as registry_store
from monitor.reports import checkins, queries, roster, schemas
from monitor.reports.csv_out import CSV_TYPE, csv_response, wants_csv
from monitor.reports.params import (
    Bound,
    Period,
    invalid,
    month_period,
    period,
)
from monitor.reports.queries import Scope
from monitor.reports.schemas import Format, Report
from pings.pg import Conn

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[RefuseUnknownQuery])
AS_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {CSV_TYPE: {"schema": {"type": "string"}}}, "description": "The report"}
}
TimeZone = Annotated[Text | None, Query(max_length=64, description="IANA zone; days and months")]
Office = Annotated[DbId | None, Query(description="a subtree within reach; default your own")]
From = Annotated[Bound, Query(alias="from", description="a date (local midnight) or an instant")]
To = Annotated[Bound, Query(alias="to", description="excluded: [from, to)")]
FormatParam = Annotated[Format | None, Query(alias="format")]
# windows are rebuilt a row per rule and day (monitor/reports/checkins.py): a quarter at
# 5,000 daily rules is ~10 s on a loaded 2-core machine, a year ~40 s, holding a connection
CHECKIN_MAX_DAYS = 92


# a CSV download, or the envelope FastAPI checks against the route's Report[row] model
Reply = Response | dict[str, Any]


@dataclass(frozen=True)
class Asked:
    """One report request: who, which subtree and period, and how to answer."""

    officer: Officer
    jurisdiction_id: int
    scope: Scope
    period: Period
    csv: bool

    def reply(
        self, name: str, row: type[BaseModel], rows: list[dict[str, Any]], **extra: Any
    ) -> Reply:
        if self.csv:
            return csv_response(f"{name}_{self.period.label()}", list(row.model_fields), rows)
        return {
            "report": name,
            "start": self.period.start,
            "end": self.period.end,
            "tz": self.period.tz,
            "jurisdiction_id": self.jurisdiction_id,
            "generated_at": datetime.now(UTC),
            "rows": rows,
            **extra,
        }


async def subtree(ctx: Ctx, officer: Officer, jurisdiction_id: int | None) -> tuple[int, str]:
    """The jurisdiction reported on; one out of reach answers exactly as a missing one."""
    if jurisdiction_id is None:
        return officer.jurisdiction_id, officer.jurisdiction_path
    async with ctx.pool.acquire() as conn:
        path = await registry_store.get_jurisdiction_path(conn, jurisdiction_id=jurisdiction_id)
    if path is None or not officer.sees(path):
        raise NotFoundError(f"jurisdiction {jurisdiction_id} not found", field="jurisdiction_id")
    return jurisdiction_id, path


async def asked_for_period(
    ctx: Ctx,
    request: Request,
    officer: CurrentOfficer,
    start: From,
    end: To,
    tz: TimeZone = None,
    jurisdiction_id: Office = None,
    format: FormatParam = None,
) -> Asked:
    span = period(start, end, tz or ctx.settings.time_zone)
    office, path = await subtree(ctx, officer, jurisdiction_id)
    scope = Scope(path, span.start, span.end)
    return Asked(officer, office, scope, span, wants_csv(request, format))


async def asked_for_month(
    ctx: Ctx,
    request: Request,
    officer: CurrentOfficer,
    month: Annotated[str, Query(max_length=7, examples=["2026-10"])],
    tz: TimeZone = None,
    jurisdiction_id: Office = None,
    format: FormatParam = None,
) -> Asked:
    span = month_period(month, tz or ctx.settings.time_zone)
    office, path = await subtree(ctx, officer, jurisdiction_id)
    scope = Scope(path, span.start, span.end)
    return Asked(officer, office, scope, span, wants_csv(request, format))


ForPeriod = Annotated[Asked, Depends(asked_for_period)]
ForMonth = Annotated[Asked, Depends(asked_for_month)]


async def read(ctx: Ctx, query: Callable[[Conn], Any]) -> Any:
    async with ctx.pool.acquire() as conn:
        return await query(conn)


@router.get("/alerts", response_model=Report[schemas.AlertCountRow], responses=AS_CSV)
async def alerts_by_day(ctx: Ctx, asked: ForPeriod) -> Reply:
    """Alerts opened in [from, to), counted by local day (in `tz`), office and type."""
    rows = await read(ctx, lambda c: queries.alerts_by_day(c, asked.scope, tz=asked.period.tz))
    return asked.reply("alerts_by_day", schemas.AlertCountRow, rows)


@router.get("/response-times", response_model=Report[schemas.ResponseTimeRow], responses=AS_CSV)
async def response_times(ctx: Ctx, asked: ForPeriod) -> Reply:
    """Of the alerts opened in [from, to), per type and office: seconds from the alert's
    arrival to its acknowledgement and to its resolution by an officer (median, p90)."""
    rows = await read(ctx, lambda c: queries.response_times(c, asked.scope))
    return asked.reply("response_times", schemas.ResponseTimeRow, rows)


@router.get("/dispositions", response_model=Report[schemas.DispositionRow], responses=AS_CSV)
async def dispositions(ctx: Ctx, asked: ForPeriod) -> Reply:
    """Alerts resolved in [from, to), counted by office and disposition."""
    rows = await read(ctx, lambda c: queries.dispositions(c, asked.scope))
    return asked.reply("dispositions", schemas.DispositionRow, rows)


@router.get("/checkin-rate", response_model=Report[schemas.CheckinRateRow], responses=AS_CSV)
async def checkin_rate(ctx: Ctx, asked: ForPeriod) -> Reply:
    """The missed check-in alarm rate (未签到报警率): check-in windows judged missed over the
    windows due (judged) in [from, to), per office, with the total in `totals`. A window is
    due when its end plus grace passes; one not asked (no monitoring order over it, a
    suspension, a rule made after it opened) is neither. `alerts_opened`: missed_checkin
    alerts opened in the period (one alert stands for every window missed while it is open).
    At most 92 days: the windows are rebuilt from the rules, a row per rule and day."""
    if asked.scope.end - asked.scope.start > timedelta(days=CHECKIN_MAX_DAYS):
        raise invalid("to", f"the check-in rate spans at most {CHECKIN_MAX_DAYS} days")
    now = datetime.now(UTC)
    rows = await read(ctx, lambda c: checkins.checkin_rate(c, asked.scope, now=now))
    return asked.reply("checkin_rate", schemas.CheckinRateRow, rows, totals=checkins.totals(rows))


@router.get("/holiday-sweep", response_model=Report[schemas.SweepRow], responses=AS_CSV)
async def holiday_sweep(
    ctx: Ctx, asked: ForPeriod, limit: Annotated[int, Query(ge=1, le=10_000)] = 5000
) -> Reply:
    """Everyone away from their allowed area at some time in [from, to): each out_of_area
    and overdue_return episode overlapping it, with when they left, when they were judged
    back and for how long. It names persons from their positions: every read is audited."""
    now = datetime.now(UTC)
    async with ctx.pool.acquire() as conn, conn.transaction():
        rows = await queries.holiday_sweep(conn, asked.scope, now=now, limit=limit)
        await alert_store.audit(
            conn, officer_id=asked.officer.id, action="read_holiday_sweep",
            subject=asked.scope.under_path,
            details={
                "jurisdiction_id": asked.jurisdiction_id, "start": asked.period.start.isoformat(),
                "end": asked.period.end.isoformat(), "tz": asked.period.tz, "limit": limit,
                "person_ids": sorted({r["person_id"] for r in rows}),
            },
        )  # fmt: skip
    return asked.reply("holiday_sweep", schemas.SweepRow, rows)


@router.get("/roster", response_model=Report[schemas.RosterRow], responses=AS_CSV)
async def monthly_roster(ctx: Ctx, asked: ForMonth) -> Reply:
    """Per office in reach, for the local month: persons created, orders started, ended and
    revoked, and persons under an order at its start and end (start + placed − released =
    end). Transfers between offices are not recorded: a person counts in their current
    office."""
    rows = await read(ctx, lambda c: roster.monthly_roster(c, asked.scope))
    return asked.reply("roster", schemas.RosterRow, rows)
