"""Curfew and check-in windows in the person's time zone, permits, suspensions, and rule
checking."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.errors import InvalidInputError
from geofence.person_rules import (
    Checkin,
    Curfew,
    Permit,
    PersonRules,
    Suspension,
    parse_rules,
    parse_suspension,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NIGHTLY = Curfew(1, 7, frozenset(range(7)), time(22), time(6))


def ms(local: datetime) -> int:
    return round(local.timestamp() * 1000)


def at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args).replace(tzinfo=tz)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ((2026, 11, 30, 21, 59), False),
        ((2026, 11, 30, 22, 0), True),  # the window starts on the minute
        ((2026, 11, 30, 23, 59), True),
        ((2026, 12, 1, 0, 30), True),  # across midnight: the window of the evening before
        ((2026, 12, 1, 5, 59), True),
        ((2026, 12, 1, 6, 0), False),  # ends on the minute
        ((2026, 12, 1, 12, 0), False),
    ],
)
def test_nightly_curfew_across_midnight(local: tuple[int, ...], inside: bool) -> None:
    window = NIGHTLY.window_at(ms(at(SHANGHAI, *local)), SHANGHAI)
    assert (window is not None) is inside


def test_window_is_read_in_the_persons_zone() -> None:
    """23:00 in Shanghai is 15:00 UTC: a curfew is local wall-clock time, not UTC."""
    instant = ms(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert NIGHTLY.window_at(instant, SHANGHAI) == (
        ms(at(SHANGHAI, 2026, 11, 30, 22, 0)),
        ms(at(SHANGHAI, 2026, 12, 1, 6, 0)),
    )
    assert NIGHTLY.window_at(instant, ZoneInfo("UTC")) is None


def test_weekday_windows_start_on_their_days_only() -> None:
    weekends = Curfew(1, 7, frozenset({4, 5}), time(23), time(5))  # Friday and Saturday nights
    friday_night = ms(at(SHANGHAI, 2026, 12, 4, 23, 30))
    saturday_small_hours = ms(at(SHANGHAI, 2026, 12, 5, 2, 0))  # Friday's window
    sunday_night = ms(at(SHANGHAI, 2026, 12, 6, 23, 30))
    monday_small_hours = ms(at(SHANGHAI, 2026, 12, 7, 2, 0))  # Sunday's: none
    assert weekends.window_at(friday_night, SHANGHAI) is not None
    assert weekends.window_at(saturday_small_hours, SHANGHAI) is not None
    assert weekends.window_at(sunday_night, SHANGHAI) is None
    assert weekends.window_at(monday_small_hours, SHANGHAI) is None


def test_daytime_window_does_not_wrap() -> None:
    school_hours = Curfew(1, 7, frozenset(range(5)), time(8), time(15))
    assert school_hours.window_at(ms(at(SHANGHAI, 2026, 12, 1, 9)), SHANGHAI) is not None
    assert school_hours.window_at(ms(at(SHANGHAI, 2026, 12, 1, 16)), SHANGHAI) is None


def test_window_keeps_local_hours_across_a_dst_change() -> None:
    """New York falls back on 2026-11-01: that night lasts 9 hours, still 22:00 to 06:00."""
    start, end = NIGHTLY.window_at(ms(at(NEW_YORK, 2026, 11, 1, 3, 0)), NEW_YORK) or (0, 0)
    assert end - start == 9 * 3600 * 1000
    assert datetime.fromtimestamp(start / 1000, NEW_YORK).hour == 22
    assert datetime.fromtimestamp(end / 1000, NEW_YORK).hour == 6


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.sampled_from([SHANGHAI, NEW_YORK, ZoneInfo("Europe/London")]),
    st.frozensets(st.integers(0, 6), min_size=1),
    st.times(),
    st.times(),
)
def test_a_window_found_contains_the_instant_and_starts_on_its_hours(
    moment: datetime, tz: ZoneInfo, days: frozenset[int], start: time, end: time
) -> None:
    if start == end:
        return
    curfew = Curfew(1, 7, days, start.replace(microsecond=0), end.replace(microsecond=0))
    instant = ms(moment.replace(tzinfo=UTC))
    window = curfew.window_at(instant, tz)
    if window is not None:
        assert window[0] <= instant < window[1]
        local_start = datetime.fromtimestamp(window[0] / 1000, tz)
        assert local_start.weekday() in days  # a window starts on one of its days


def test_permit_and_suspension_cover_half_open_intervals() -> None:
    permit = Permit(1, 1000, 2000, grace_s=60)
    assert [permit.covers(t) for t in (999, 1000, 1999, 2000)] == [False, True, True, False]
    assert permit.overdue_at_ms() == 62_000
    muted = Suspension(1, 1000, 2000, frozenset({"out_of_area"}))
    assert muted.covers("out_of_area", 1500)
    assert not muted.covers("tamper", 1500)
    assert Suspension(2, 1000, 2000).covers("tamper", 1500)  # no types: all of them


DAY = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2026-12-02T00:00:00+08:00"}


def test_parse_rules_reads_stored_rows() -> None:
    curfew = {"fence_id": 9, "start": "22:00", "end": "06:00"}
    permit = {"id": 5, "grace_s": 600, "starts_at": "2026-12-01T08:00:00+08:00"}
    rules = parse_rules(
        "Asia/Shanghai",
        [
            {"id": 1, "kind": "curfew", "params": curfew},
            {"id": 2, "kind": "thresholds", "params": {"exit_pings": 4}},
            {"id": 3, "kind": "suspension", "params": DAY},
        ],
        [{**permit, "ends_at": "2026-12-01T20:00:00+08:00"}],
    )
    assert rules.curfews == (Curfew(1, 9, frozenset(range(7)), time(22), time(6)),)
    assert rules.thresholds == {"exit_pings": 4.0}
    noon = ms(at(SHANGHAI, 2026, 12, 1, 12))
    assert rules.permit_at(noon) == rules.permits[0]
    assert rules.suspended("curfew", noon)
    assert PersonRules().permit_at(noon) is None


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("curfew", {"fence_id": 1, "start": "25:00", "end": "06:00"}, "params.start"),
        ("curfew", {"fence_id": 1, "start": "22:00", "end": "22:00"}, "params.end"),
        ("curfew", {"fence_id": 1, "start": "22:00+08:00", "end": "06:00"}, "params.start"),
        ("curfew", {"start": "22:00", "end": "06:00"}, "params.fence_id"),
        ("curfew", {"fence_id": 1, "start": "22:00", "end": "06:00", "days": [7]}, "params.days"),
        ("curfew", {"fence_id": 1, "start": "22:00", "end": "06:00", "days": []}, "params.days"),
        ("suspension", {"starts_at": "2026-12-01T00:00:00", "ends_at": "x"}, "params.starts_at"),
        (
            "suspension",
            {"starts_at": "2026-12-02T00:00:00+08:00", "ends_at": "2026-12-01T00:00:00+08:00"},
            "params.ends_at",
        ),
        (
            "suspension",
            {
                "starts_at": "2026-12-01T00:00:00+08:00",
                "ends_at": "2026-12-02T00:00:00+08:00",
                "types": "all",
            },
            "params.types",
        ),
        ("thresholds", {"exit_pings": 0}, "params.exit_pings"),
        ("thresholds", {"exit_pings": 2.5}, "params.exit_pings"),
        ("thresholds", {"exit_min_s": -1}, "params.exit_min_s"),
        ("thresholds", {"dwell": 3}, "params.dwell"),
        ("checkin", {}, "params.at"),
        ("checkin", {"at": "9am"}, "params.at"),
        ("checkin", {"at": "09:00", "window_min": 0}, "params.window_min"),
        ("checkin", {"at": "09:00", "window_min": 1441}, "params.window_min"),
        ("checkin", {"at": "09:00", "window_min": "60"}, "params.window_min"),
        ("checkin", {"at": "09:00", "grace_min": -1}, "params.grace_min"),
        ("checkin", {"at": "09:00", "days": [True]}, "params.days"),
        ("checkin", {"at": "09:00", "window": 30}, "params.window"),
        ("lunch", {}, "kind"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    kind: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=rf"^{field}: "):
        parse_rules("Asia/Shanghai", [{"id": 1, "kind": kind, "params": params}], [])


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^timezone: "):
        _ = PersonRules(timezone="Mars/Olympus").zone


def test_window_lengths_are_whole_for_a_day_without_dst() -> None:
    start, end = NIGHTLY.window_at(ms(at(SHANGHAI, 2026, 6, 1, 23)), SHANGHAI) or (0, 0)
    assert timedelta(milliseconds=end - start) == timedelta(hours=8)


MORNINGS = Checkin(4, frozenset(range(5)), time(9), window_s=3600, grace_s=600)  # weekdays


def test_checkin_windows_open_on_their_days_at_local_time() -> None:
    friday_night = ms(at(SHANGHAI, 2026, 12, 4, 22))
    start, end = MORNINGS.next_window(friday_night, SHANGHAI)
    assert datetime.fromtimestamp(start / 1000, SHANGHAI) == at(SHANGHAI, 2026, 12, 7, 9)
    assert end - start == 3_600_000
    opening = ms(at(SHANGHAI, 2026, 12, 7, 9))  # strictly after: the same window is not next
    assert MORNINGS.next_window(opening, SHANGHAI)[0] == ms(at(SHANGHAI, 2026, 12, 8, 9))
    assert MORNINGS.next_window(opening - 1, SHANGHAI)[0] == opening


def test_a_checkin_window_keeps_its_local_hour_and_real_length_across_dst() -> None:
    daily = Checkin(1, frozenset(range(7)), time(9), window_s=1800, grace_s=0)
    saturday = ms(at(NEW_YORK, 2026, 3, 7, 12))  # DST began on Sunday 8 March 2026 at 02:00
    start, end = daily.next_window(saturday, NEW_YORK)
    assert datetime.fromtimestamp(start / 1000, NEW_YORK) == at(NEW_YORK, 2026, 3, 8, 9)
    assert end - start == 1_800_000
    previous, _ = daily.next_window(saturday - 86_400_000, NEW_YORK)
    assert start - previous == 23 * 3_600_000  # the short day


def test_the_window_judged_at_its_due_time_is_the_window() -> None:
    window = MORNINGS.next_window(ms(at(SHANGHAI, 2026, 12, 1)), SHANGHAI)
    assert MORNINGS.due_ms(window) == window[1] + 600_000
    assert MORNINGS.window_due_at(MORNINGS.due_ms(window)) == window


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.sampled_from([SHANGHAI, NEW_YORK, ZoneInfo("Europe/London")]),
    st.frozensets(st.integers(0, 6), min_size=1),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.integers(1, 24 * 60),
)
def test_the_next_checkin_window_is_the_first_one_after_the_instant(
    moment: datetime, tz: ZoneInfo, days: frozenset[int], opens: time, window_min: int
) -> None:
    rule = Checkin(1, days, opens, window_s=window_min * 60, grace_s=0)
    instant = ms(moment.replace(tzinfo=UTC))
    start, end = rule.next_window(instant, tz)
    assert instant < start and end - start == window_min * 60_000
    local = datetime.fromtimestamp(start / 1000, tz)
    assert local.weekday() in days
    # no window of the rule opens in between: each local day up to it was either not one of
    # the rule's days or had its opening time at or before the instant
    day = datetime.fromtimestamp(instant / 1000, tz).date()
    while day < local.date():
        if day.weekday() in days:
            assert ms(datetime.combine(day, opens, tzinfo=tz)) <= instant
        day += timedelta(days=1)


def test_parse_rules_reads_a_checkin_rule_with_its_defaults() -> None:
    rules = parse_rules(
        "Asia/Shanghai", [{"id": 4, "kind": "checkin", "params": {"at": "09:00"}}], []
    )
    assert rules.checkins == (Checkin(4, frozenset(range(7)), time(9), 3600, 600),)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
)
def test_a_rule_instant_floors_to_the_millisecond_a_fix_time_floors_to(moment: datetime) -> None:
    """A suspension ending at 10:00:00.0006 ends where a fix at that instant is counted
    (pings.clock floors), whatever the year: no rounding up, no float error near year 9999."""
    day = {"starts_at": moment.isoformat(), "ends_at": (moment + timedelta(days=1)).isoformat()}
    suspension = parse_suspension(1, day)
    epoch_us = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert suspension.starts_ms == epoch_us // 1000
