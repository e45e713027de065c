"""A person's rules beyond the allowed area, as pure data: curfews, check-ins, leave permits,
suspensions.

Time comes in as epoch milliseconds; wall-clock rules (curfew hours) are read in the person's
own time zone, so a window keeps its local hours across DST changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geofence.errors import InvalidInputError


@dataclass(frozen=True)
class Curfew:
    """Inside the home zone during weekly windows, e.g. 22:00-06:00 on every day."""

    rule_id: int
    fence_id: int  # the home zone
    days: frozenset[int]  # weekdays a window starts on, Monday 0 .. Sunday 6
    start: time  # local wall-clock time
    end: time  # local; at or before `start` means the next day

    def window_at(self, ts_ms: int, tz: ZoneInfo) -> tuple[int, int] | None:
        """(start_ms, end_ms) of the window covering this instant, if one does."""
        local_day = datetime.fromtimestamp(ts_ms / 1000, tz).date()
        for day in (local_day - timedelta(days=1), local_day):
            if day.weekday() not in self.days:
                continue
            start_ms, end_ms = self._window(day, tz)
            if start_ms <= ts_ms < end_ms:
                return start_ms, end_ms
        return None

    def _window(self, day: date, tz: ZoneInfo) -> tuple[int, int]:
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        start = datetime.combine(day, self.start, tzinfo=tz)
        end = datetime.combine(end_day, self.end, tzinfo=tz)
        return _ms(start), _ms(end)


@dataclass(frozen=True)
class Checkin:
    """Check in (签到: a ping with `checkin: true`) within a window that opens at a local time on
    the given weekdays, e.g. every day from 09:00 for 60 minutes.

    A window is judged once, `grace_s` after it closes: a phone that was offline may deliver a
    check-in made in time a little later. A window lasts `window_s` of real time from its
    local opening time, so a DST change neither stretches nor shortens it."""

    rule_id: int
    days: frozenset[int]  # weekdays a window opens on, Monday 0 .. Sunday 6
    opens: time  # local wall-clock time
    window_s: int
    grace_s: int

    def next_window(self, after_ms: int, tz: ZoneInfo) -> tuple[int, int]:
        """(start_ms, end_ms) of the first window opening strictly after `after_ms`."""
        local_day = datetime.fromtimestamp(after_ms / 1000, tz).date()
        for offset in range(8):  # the same weekday a week on, at the latest
            day = local_day + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            start_ms = _ms(datetime.combine(day, self.opens, tzinfo=tz))
            if start_ms > after_ms:
                return start_ms, start_ms + self.window_s * 1000
        raise AssertionError("a check-in rule has at least one weekday")

    def due_ms(self, window: tuple[int, int]) -> int:
        """When a window is judged: its end and the grace."""
        return window[1] + self.grace_s * 1000

    def window_due_at(self, due_ms: int) -> tuple[int, int]:
        """The window judged at `due_ms` (rules are never edited, so this inverts due_ms)."""
        end_ms = due_ms - self.grace_s * 1000
        return end_ms - self.window_s * 1000, end_ms


@dataclass(frozen=True)
class Permit:
    """An approved leave (外出审批): out_of_area is suspended from start to end."""

    permit_id: int
    starts_ms: int
    ends_ms: int
    grace_s: int

    def covers(self, ts_ms: int) -> bool:
        return self.starts_ms <= ts_ms < self.ends_ms

    def overdue_at_ms(self) -> int:
        return self.ends_ms + self.grace_s * 1000


@dataclass(frozen=True)
class Suspension:
    """No alert of these types opens between start and end (all types when empty)."""

    rule_id: int
    starts_ms: int
    ends_ms: int
    types: frozenset[str] = frozenset()

    def covers(self, alert_type: str, ts_ms: int) -> bool:
        return self.starts_ms <= ts_ms < self.ends_ms and (
            not self.types or alert_type in self.types
        )


@dataclass(frozen=True)
class PersonRules:
    timezone: str = "Asia/Shanghai"
    curfews: tuple[Curfew, ...] = ()
    checkins: tuple[Checkin, ...] = ()
    permits: tuple[Permit, ...] = ()
    suspensions: tuple[Suspension, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)  # overrides, by field name

    @property
    def zone(self) -> ZoneInfo:
        return zone_info(self.timezone)

    def curfew_window(self, curfew: Curfew, ts_ms: int) -> tuple[int, int] | None:
        return curfew.window_at(ts_ms, self.zone)

    def permit_at(self, ts_ms: int) -> Permit | None:
        return next((p for p in self.permits if p.covers(ts_ms)), None)

    def suspended(self, alert_type: str, ts_ms: int) -> bool:
        return any(s.covers(alert_type, ts_ms) for s in self.suspensions)


def zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"timezone: {name!r} is not an IANA time zone") from None


THRESHOLD_FIELDS = ("exit_pings", "exit_min_s", "return_pings")
THRESHOLD_MAX = 2**31 - 1  # a count or seconds: what a PostgreSQL integer holds
ID_MAX = 2**63 - 1  # a bigserial id


def parse_rules(
    timezone: str, rules: Iterable[Mapping[str, Any]], permits: Iterable[Mapping[str, Any]]
) -> PersonRules:
    """Rules as stored (person_rules rows: id, kind, params) and leave permits, checked."""
    curfews: list[Curfew] = []
    checkins: list[Checkin] = []
    suspensions: list[Suspension] = []
    thresholds: dict[str, float] = {}
    for rule in rules:
        kind, params, rule_id = rule["kind"], rule["params"], int(rule["id"])
        if kind == "curfew":
            curfews.append(parse_curfew(rule_id, params))
        elif kind == "checkin":
            checkins.append(parse_checkin(rule_id, params))
        elif kind == "suspension":
            suspensions.append(parse_suspension(rule_id, params))
        elif kind == "thresholds":
            thresholds.update(parse_thresholds(params))
        else:
            raise InvalidInputError(f"kind: unknown rule kind {kind!r}")
    return PersonRules(
        timezone=timezone,
        curfews=tuple(curfews),
        checkins=tuple(checkins),
        permits=tuple(parse_permit(p) for p in permits),
        suspensions=tuple(suspensions),
        thresholds=thresholds,
    )


def parse_curfew(rule_id: int, params: Mapping[str, Any]) -> Curfew:
    days = _days(params)
    start = _clock("params.start", params.get("start"))
    end = _clock("params.end", params.get("end"))
    if start == end:
        raise InvalidInputError("params.end: must differ from params.start")
    fence_id = params.get("fence_id")
    if not isinstance(fence_id, int) or isinstance(fence_id, bool) or not 1 <= fence_id <= ID_MAX:
        raise InvalidInputError("params.fence_id: the id of the home zone fence is required")
    return Curfew(rule_id, fence_id, days, start, end)


CHECKIN_PARAMS = ("days", "at", "window_min", "grace_min")


def parse_checkin(rule_id: int, params: Mapping[str, Any]) -> Checkin:
    """`{"at": "09:00", "window_min": 60, "grace_min": 10, "days": [0..6]}`: every key but `at`
    optional. Unknown keys are refused: a misspelt `window_min` must not become the default."""
    unknown = sorted(set(params) - set(CHECKIN_PARAMS))
    if unknown:
        raise InvalidInputError(f"params.{unknown[0]}: not a check-in setting {CHECKIN_PARAMS}")
    window_min = _whole("params.window_min", params.get("window_min", 60), 1, 24 * 60)
    grace_min = _whole("params.grace_min", params.get("grace_min", 10), 0, 12 * 60)
    opens = _clock("params.at", params.get("at"))
    return Checkin(rule_id, _days(params), opens, window_min * 60, grace_min * 60)


def _days(params: Mapping[str, Any]) -> frozenset[int]:
    days = params.get("days", list(range(7)))
    if (
        not isinstance(days, list)
        or not days
        or not all(isinstance(d, int) and not isinstance(d, bool) and d in range(7) for d in days)
    ):
        raise InvalidInputError("params.days: weekdays 0 (Monday) to 6 (Sunday), at least one")
    return frozenset(days)


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(f"{name}: a whole number from {low} to {high}")
    return value


def parse_suspension(rule_id: int, params: Mapping[str, Any]) -> Suspension:
    starts, ends = (_instant(f"params.{k}", params.get(k)) for k in ("starts_at", "ends_at"))
    if ends <= starts:
        raise InvalidInputError("params.ends_at: must be after params.starts_at")
    types = params.get("types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidInputError("params.types: a list of alert types (empty means all)")
    return Suspension(rule_id, starts, ends, frozenset(types))


def parse_thresholds(params: Mapping[str, Any]) -> dict[str, float]:
    unknown = sorted(set(params) - set(THRESHOLD_FIELDS))
    if unknown:
        raise InvalidInputError(f"params.{unknown[0]}: not a threshold ({THRESHOLD_FIELDS})")
    out: dict[str, float] = {}
    for name, value in params.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise InvalidInputError(f"params.{name}: must be a non-negative number")
        if not value <= THRESHOLD_MAX:  # also NaN; and int() below cannot take infinity
            raise InvalidInputError(f"params.{name}: at most {THRESHOLD_MAX}")
        if name.endswith("_pings") and (value != int(value) or value < 1):
            raise InvalidInputError(f"params.{name}: must be a whole number of at least 1")
        out[name] = float(value)
    return out


def parse_permit(row: Mapping[str, Any]) -> Permit:
    return Permit(
        permit_id=int(row["id"]),
        starts_ms=_instant("starts_at", row["starts_at"]),
        ends_ms=_instant("ends_at", row["ends_at"]),
        grace_s=int(row["grace_s"]),
    )


def _clock(name: str, value: Any) -> time:
    try:
        parsed = time.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name}: a local time like '22:00' is required") from None
    if parsed.tzinfo is not None:
        raise InvalidInputError(f"{name}: local wall-clock time, without an offset")
    return parsed


def _instant(name: str, value: Any) -> int:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name}: an ISO 8601 time with offset is required") from None
    if moment.tzinfo is None:
        raise InvalidInputError(f"{name}: give a time zone offset, e.g. +08:00")
    try:
        return _ms(moment)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise InvalidInputError(f"{name}: must lie between years 1 and 9999 in UTC") from None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def _ms(moment: datetime) -> int:
    """Epoch milliseconds, floored and exact, as pings.clock.dt_to_ms counts a fix time (which
    this package may not import); `astimezone` raises OverflowError outside years 1-9999 UTC."""
    return (moment.astimezone(UTC) - EPOCH) // MILLISECOND
