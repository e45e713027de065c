"""Timed scenario tables for the allowed-area state machine: (t, code) -> events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.models import INSIDE, OUTSIDE, UNCERTAIN
from geofence.state import AreaState, EventKind, Fix, Status, Thresholds, advance

TH = Thresholds(exit_pings=3, exit_min_s=30.0, return_pings=2)
IN, OUT, UNC = int(INSIDE), int(OUTSIDE), int(UNCERTAIN)


def run(
    table: list[tuple[int, int]], state: AreaState | None = None
) -> tuple[AreaState, list[str]]:
    fixes = [Fix(n + 1, t * 1000, code) for n, (t, code) in enumerate(table)]
    state, events = advance(state or AreaState(), fixes, TH)
    return state, [f"{e.kind}@{e.ts_ms // 1000}" for e in events]


@pytest.mark.parametrize(
    ("table", "expected", "status"),
    [
        ([(0, IN), (10, OUT), (20, OUT), (30, OUT), (40, OUT)], ["exited@40"], Status.OUTSIDE),
        # three outside pings but only 20 s: not yet
        ([(0, OUT), (10, OUT), (20, OUT)], [], Status.INSIDE),
        # jitter along the boundary: certain-inside breaks every run
        ([(t, OUT if t % 20 else IN) for t in range(0, 300, 10)], [], Status.INSIDE),
        # uncertain pings neither count nor break a run
        ([(0, OUT), (10, UNC), (20, OUT), (30, UNC), (40, OUT)], ["exited@40"], Status.OUTSIDE),
        # a gap, then reappearance outside: duration counts from the first outside fix
        ([(0, OUT), (600, OUT), (610, OUT)], ["exited@610"], Status.OUTSIDE),
        # out and back: return needs two certain inside fixes
        (
            [(0, OUT), (20, OUT), (40, OUT), (50, IN), (60, UNC), (70, IN)],
            ["exited@40", "returned@70"],
            Status.INSIDE,
        ),
    ],
)
def test_scenarios(table: list[tuple[int, int]], expected: list[str], status: Status) -> None:
    state, events = run(table)
    assert events == expected
    assert state.status is status


def test_buffered_out_of_order_upload_is_judged_in_fix_time_order() -> None:
    _, events = run([(40, OUT), (0, OUT), (20, OUT)])
    assert events == ["exited@40"]


def test_late_fix_never_flips_state_backwards() -> None:
    state, _ = run([(0, OUT), (20, OUT), (40, OUT)])
    state, events = advance(state, [Fix(99, 10_000, IN), Fix(100, 15_000, IN)], TH)
    assert events == [] and state.status is Status.OUTSIDE and state.late_count == 2


def test_episode_ties_exit_and_return_and_state_round_trips() -> None:
    state, _ = run([(0, OUT), (20, OUT), (40, OUT)])
    restored = AreaState.from_json(state.to_json())
    assert restored == state
    _, events = advance(restored, [Fix(7, 50_000, IN), Fix(8, 60_000, IN)], TH)
    assert [e.kind for e in events] == [EventKind.RETURNED] and events[0].episode == 1


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([IN, OUT, UNC])), max_size=60))
def test_uncertain_fixes_change_nothing(table: list[tuple[int, int]]) -> None:
    """Removing every uncertain fix gives the same events and status."""
    certain = [(t, c) for t, c in table if c != UNC]
    a_state, a_events = run(table)
    b_state, b_events = run(certain)
    assert a_events == b_events
    assert a_state.status == b_state.status


def test_new_fields_default_so_existing_callers_keep_working() -> None:
    assert Fix(1, 0, OUT).far is False
    state, events = advance(AreaState(), [Fix(n, n * 10_000, OUT) for n in range(4)], TH)
    assert [(e.kind, e.late) for e in events] == [(EventKind.EXITED, False)]
    assert state.episode == state.episode_seq == 1


def test_saved_state_leaves_out_defaults_but_never_the_status() -> None:
    """SQL reads state->'area'->>'status' (the map's latest positions): it is always there."""
    assert AreaState().to_json() == {"status": Status.INSIDE}
    state, _ = run([(0, OUT), (20, OUT)])  # a run under way, no exit yet
    saved = state.to_json()
    assert saved["status"] == "inside" and saved["run_count"] == 2
    assert "horizon_ms" not in saved and "excursions" not in saved
    assert AreaState.from_json(saved) == state
