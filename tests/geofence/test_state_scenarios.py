"""Timed scenario tables and properties for the allowed-area state machine: far fixes, late fixes.

A table row is (t seconds, mark): I certain inside, O certain outside near the edge, F certain
outside and far beyond far_radius_m, U uncertain. Events read "exited@t", "returned@t", with
" late" and "#episode" where a scenario is about them.
"""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.models import INSIDE, OUTSIDE, UNCERTAIN
from geofence.state import (
    DEFAULT_THRESHOLDS,
    AreaEvent,
    AreaState,
    Fix,
    Status,
    Thresholds,
    advance,
    far_radius_m,
)
from tests.geofence.support import PROPERTY

TH = Thresholds(exit_pings=3, exit_min_s=30.0, return_pings=2)
CODES = {"I": int(INSIDE), "O": int(OUTSIDE), "F": int(OUTSIDE), "U": int(UNCERTAIN)}
Table = list[tuple[int, str]]


def fixes_of(table: Table, first_id: int = 1) -> list[Fix]:
    return [
        Fix(first_id + n, t * 1000, CODES[mark], far=mark == "F")
        for n, (t, mark) in enumerate(table)
    ]


def far_out(t: int) -> Table:
    """Three far fixes a second apart: enough to exit at once."""
    return [(t, "F"), (t + 1, "F"), (t + 2, "F")]


def names(events: list[AreaEvent], *, episodes: bool = False) -> list[str]:
    def name(e: AreaEvent) -> str:
        late = " late" if e.late else ""
        episode = f"#{e.episode}" if episodes else ""
        return f"{e.kind}@{e.ts_ms // 1000}{episode}{late}"

    return [name(e) for e in events]


def run(*tables: Table, th: Thresholds = TH) -> tuple[AreaState, list[list[str]]]:
    """Each table is one advance() call (one upload); answers the events of each call."""
    state, out, next_id = AreaState(), [], 1
    for table in tables:
        state, events = advance(state, fixes_of(table, next_id), th)
        out.append(names(events, episodes=True))
        next_id += len(table)
    return state, out


def test_far_radius_is_500_m_or_five_times_the_accuracy() -> None:
    radius = far_radius_m(np.array([5.0, 100.0, 1000.0]))
    assert radius.tolist() == [500.0, 500.0, 5000.0]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # jitter along a boundary: certain inside breaks every run, far or near
        ([(t, "O" if t % 20 else "I") for t in range(0, 600, 10)], []),
        ([(t, "FOIU"[t // 10 % 4]) for t in range(0, 600, 10)], []),
        # near the edge: three fixes over 30 s
        ([(0, "I"), (10, "O"), (20, "O"), (30, "O"), (40, "O")], ["exited@40#1"]),
        # far fixes skip the dwell, not the count: three in two seconds
        ([(0, "I"), (100, "F"), (101, "F"), (102, "F")], ["exited@102#1"]),
        # two far fixes are not enough (one bad stretch of a receiver), nor a near one among them
        ([(0, "I"), (100, "F"), (101, "F"), (102, "I"), (103, "F")], []),
        ([(0, "I"), (100, "F"), (101, "O"), (102, "F")], []),
        # uncertain fixes neither count nor break a far run
        ([(0, "I"), (100, "F"), (101, "U"), (102, "F"), (103, "U"), (104, "F")], ["exited@104#1"]),
        # a gap, then reappearance outside: near fixes dwell from the first one after the gap
        ([(0, "I"), (600, "O"), (610, "O"), (630, "O")], ["exited@630#1"]),
        # ... far ones do not wait
        ([(0, "I"), (600, "F"), (601, "F"), (602, "F")], ["exited@602#1"]),
        # out and back, and out again: a new episode
        (
            [*far_out(0), (50, "I"), (60, "U"), (70, "I"), *far_out(80)],
            ["exited@2#1", "returned@70#1", "exited@82#2"],
        ),
    ],
)
def test_scenarios(table: Table, expected: list[str]) -> None:
    _, events = run(table)
    assert events == [expected]


def test_buffered_upload_out_of_order_in_one_call_is_judged_in_fix_time_order() -> None:
    _, events = run([(0, "I"), (40, "O"), (10, "O"), (20, "U"), (30, "O")])
    assert events == [["exited@40#1"]]


def test_late_fixes_prove_a_past_excursion_with_its_own_episode() -> None:
    live = [(0, "I"), (1000, "I")]
    buffered = [(200, "O"), (215, "O"), (230, "O"), (240, "I"), (250, "I")]
    state, events = run(live, buffered, [(1100, "F"), (1101, "F"), (1102, "F")])
    assert events == [[], ["exited@230#1 late", "returned@250#1 late"], ["exited@1102#2"]]
    assert state.status is Status.OUTSIDE and state.episode == 2


def test_late_fixes_never_flip_the_current_status() -> None:
    state, _ = run([(0, "I"), (500, "I")])
    state, events = run_on(state, [(100, "F"), (101, "F"), (102, "F")])
    assert events == ["exited@102#1 late"]
    assert state.status is Status.INSIDE and state.run_count == 0


def test_late_fixes_during_a_known_excursion_raise_nothing() -> None:
    live = [(0, "I"), (10, "O"), (20, "O"), (40, "O"), (100, "I"), (110, "I")]
    late = [(5, "F"), (6, "F"), (7, "F"), (50, "F"), (60, "F"), (70, "F"), (105, "O")]
    _, events = run(live, late)
    assert events == [["exited@40#1", "returned@110#1"], []]


def test_late_fixes_while_still_outside_raise_nothing_and_do_not_bring_the_person_back() -> None:
    state, _ = run([(0, "I"), (10, "F"), (11, "F"), (12, "F"), (20, "F")])
    state, late = run_on(state, [(5, "F"), (13, "I"), (14, "I"), (15, "I")])
    assert late == [] and state.status is Status.OUTSIDE


def test_a_late_excursion_still_open_is_the_same_one_the_live_fixes_then_prove() -> None:
    # live: inside, then one outside fix; the buffered fixes show the person left before it
    state, _ = run([(0, "I"), (200, "O")])
    state, late = run_on(state, [(110, "F"), (120, "F"), (130, "F")])
    state, live = run_on(state, [(210, "O"), (240, "O")])
    assert late == ["exited@130#1 late"]
    assert live == ["exited@240#1"], "same episode: the alert is updated, not doubled"


def test_a_late_excursion_ends_at_the_next_known_inside_fix() -> None:
    state, _ = run([(0, "I"), (500, "I")])
    state, late = run_on(state, [(100, "F"), (110, "F"), (140, "F")])
    state, live = run_on(state, [(550, "I"), (600, "O"), (610, "O"), (640, "O")], first_id=2000)
    assert late == ["exited@140#1 late"] and live == ["exited@640#2"]
    state, again = run_on(state, [(300, "F"), (301, "F"), (302, "F")], first_id=3000)
    assert again == [], "within the late excursion: it lasted until 500 s at most"
    state, again = run_on(state, [(620, "F"), (621, "F"), (622, "F")], first_id=4000)
    assert again == [], "within the live excursion"
    _, again = run_on(state, [(520, "F"), (521, "F"), (522, "F")], first_id=5000)
    assert again == ["exited@522#3 late"], "between known inside fixes at 500 and 550 s: a new one"


def test_late_fixes_split_at_the_last_known_inside_fix() -> None:
    # the live inside fix at 50 s broke any run across it, so late fixes either side don't add up
    state, _ = run([(0, "I"), (50, "I"), (100, "O")])
    _, late = run_on(state, [(40, "F"), (45, "F"), (55, "F")])
    assert late == []


def test_a_redelivered_upload_is_already_judged() -> None:
    upload = [(0, "I"), (10, "O"), (20, "O"), (40, "O"), (50, "O"), (60, "I"), (70, "I")]
    state, events = run(upload)
    again = advance(state, fixes_of(upload), TH)
    assert events == [["exited@40#1", "returned@70#1"]] and again[1] == []


def test_late_fixes_older_than_the_remembered_excursions_are_only_counted() -> None:
    table: Table = [(0, "I")]
    for n in range(12):  # twelve excursions, more than the state remembers
        t = 1000 * (n + 1)
        table += [(t, "F"), (t + 1, "F"), (t + 2, "F"), (t + 10, "I"), (t + 11, "I")]
    state, _ = run(table)
    state, late = run_on(state, [(100, "F"), (101, "F"), (102, "F")])
    assert late == [] and state.late_count == 3


def test_strict_is_never_slower_than_normal_nor_normal_than_lenient() -> None:
    levels = [DEFAULT_THRESHOLDS[k] for k in ("strict", "normal", "lenient")]
    for faster, slower in pairwise(levels):
        assert faster.exit_pings <= slower.exit_pings
        assert faster.exit_min_s <= slower.exit_min_s
        assert faster.return_pings <= slower.return_pings


def run_on(state: AreaState, table: Table, first_id: int = 1000) -> tuple[AreaState, list[str]]:
    state, events = advance(state, fixes_of(table, first_id), TH)
    return state, names(events, episodes=True)


def test_state_saved_before_far_and_late_fields_still_loads() -> None:
    old = {
        "status": "outside",
        "last_ts_ms": 40_000,
        "run_count": 1,
        "run_start_ms": 35_000,
        "run_ping_ids": [9],
        "episode": 4,
        "late_count": 2,
    }
    state = AreaState.from_json(old)
    assert state.status is Status.OUTSIDE and state.episode_seq == 4
    state, events = advance(state, [Fix(10, 50_000, int(INSIDE))], TH)
    assert names(events, episodes=True) == ["returned@50#4"]
    state, events = advance(state, [Fix(11, 40_000, int(OUTSIDE))], TH)
    assert events == [] and state.late_count == 3


# -- properties ------------------------------------------------------------------------------

marks = st.sampled_from("IOFU")
tables = st.lists(st.tuples(st.integers(0, 3_000), marks), max_size=50)


def in_order(table: Table) -> Table:
    """Distinct times, sorted: a device uploading as it goes."""
    return sorted({t: (t, mark) for t, mark in table}.values())


@PROPERTY
@given(tables, tables)
def test_uncertain_fixes_change_nothing(history: Table, upload: Table) -> None:
    """Removing every uncertain fix, live or late, leaves events and state the same."""

    def certain(table: Table) -> Table:
        return [(t, m) for t, m in table if m != "U"]

    with_u = advance_all([history, upload])
    without = advance_all([certain(history), certain(upload)])
    assert with_u[1] == without[1]
    assert with_u[0].status == without[0].status and with_u[0].episode == without[0].episode


def advance_all(tables: list[Table]) -> tuple[AreaState, list[str]]:
    """Ping ids from the times, so the same fix has the same id whatever the split."""
    state, out = AreaState(), []
    for table in tables:
        fixes = [Fix(t, t * 1000, CODES[m], far=m == "F") for t, m in table]
        state, events = advance(state, fixes, TH)
        out += names(events, episodes=True)
    return state, out


@PROPERTY
@given(tables, tables)
def test_late_fixes_never_change_the_current_status(history: Table, late: Table) -> None:
    state, _ = advance_all([in_order(history)])
    last_s = (state.last_ts_ms or 0) // 1000
    older = [(t, m) for t, m in late if t < last_s]
    after, events = advance(
        state, [Fix(10_000 + t, t * 1000, CODES[m], m == "F") for t, m in older], TH
    )
    assert (after.status, after.run_count, after.run_ping_ids, after.episode) == (
        state.status,
        state.run_count,
        state.run_ping_ids,
        state.episode,
    )
    assert all(e.late for e in events)
    assert after.late_count == state.late_count + sum(m != "U" for _, m in older)


@PROPERTY
@given(tables, st.lists(st.integers(0, 50), max_size=5))
def test_splitting_in_order_fixes_into_calls_gives_the_same_events(
    table: Table, cuts: list[int]
) -> None:
    fixes = in_order(table)
    bounds = [0, *sorted(cuts), len(fixes)]
    parts = [fixes[a:b] for a, b in pairwise(bounds)]
    one_state, one = advance_all([fixes])
    split_state, split = advance_all(parts)
    assert split == one and split_state == one_state


@PROPERTY
@given(tables)
def test_an_upload_delivered_twice_raises_nothing_the_second_time(table: Table) -> None:
    """In any arrival order; one fix per millisecond, since the state remembers times, not ids."""
    upload = list({t: (t, m) for t, m in table}.values())
    state, _ = advance_all([upload])
    fixes = [Fix(t, t * 1000, CODES[m], far=m == "F") for t, m in upload]
    assert advance(state, fixes, TH)[1] == []


@PROPERTY
@given(tables, tables)
def test_state_round_trips_through_json(history: Table, late: Table) -> None:
    state, _ = advance_all([in_order(history), late])
    restored = AreaState.from_json(json.loads(json.dumps(state.to_json())))
    assert restored == state
