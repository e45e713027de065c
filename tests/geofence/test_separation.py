"""Device separation, pure: a band against a phone, accuracies and motion allowed for."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from geofence.separation import (
    Change,
    DeviceFix,
    PairState,
    SeparationConfig,
    Verdict,
    advance,
    distance_m,
    judge,
    next_fix,
)
from simulators.fleet import offset
from tests.geofence.support import PROPERTY

CONFIG = SeparationConfig()  # 500 m, pairs within 120 s, two judgements over 60 s
HOME = (22.5431, 114.0579)


def fix(
    north_m: float, t_s: float, accuracy_m: float = 10.0, speed: float | None = 0.0
) -> DeviceFix:
    lat, lon = offset(*HOME, north_m, 0.0)
    return DeviceFix(round(t_s * 1000), lat, lon, accuracy_m, speed)


def test_far_apart_at_the_same_moment_is_apart() -> None:
    assert judge(fix(0, 0), fix(800, 0), CONFIG) is Verdict.APART


def test_accuracy_and_motion_make_a_gap_uncertain() -> None:
    assert judge(fix(0, 0, 200.0), fix(800, 0, 200.0), CONFIG) is Verdict.UNCERTAIN
    # 30 s between the fixes at 40 m/s (speed unknown) could account for 1,200 m
    assert judge(fix(0, 0, speed=None), fix(800, 30), CONFIG) is Verdict.UNCERTAIN
    # a device that has stood still moves 2 m/s at most: 60 m in 30 s
    assert judge(fix(0, 0), fix(800, 30), CONFIG) is Verdict.APART


def test_fixes_too_far_apart_in_time_are_not_compared() -> None:
    assert judge(fix(0, 0), fix(5000, 121), CONFIG) is Verdict.UNCERTAIN


def test_together_needs_the_whole_slack_within_the_distance() -> None:
    assert judge(fix(0, 0), fix(100, 0), CONFIG) is Verdict.TOGETHER
    assert judge(fix(0, 0, 100.0), fix(350, 0, 100.0), CONFIG) is Verdict.UNCERTAIN


def test_speed_comes_from_the_devices_own_previous_fix() -> None:
    moved = next_fix(fix(0, 0), fix(300, 10))
    assert moved.speed_mps is not None and abs(moved.speed_mps - 30.0) < 0.5
    assert next_fix(fix(0, 0), fix(300, 3600)).speed_mps is None  # too long ago to say
    assert next_fix(None, fix(0, 0)).speed_mps is None


def test_opens_after_two_judgements_over_a_minute_and_closes_on_return() -> None:
    state, change = advance(PairState(), fix(0, 0), fix(900, 0), CONFIG)
    assert change is None and state.run == 1
    state, change = advance(state, fix(0, 30), fix(900, 30), CONFIG)
    assert change is None and state.run == 2  # two, but only 30 s
    state, change = advance(state, fix(0, 60), fix(950, 60), CONFIG)
    assert change is Change.SEPARATED and state.apart
    state, change = advance(state, fix(0, 90), fix(400, 90, 300.0), CONFIG)
    assert change is None and state.apart  # uncertain: nothing changes
    state, change = advance(state, fix(0, 120), fix(50, 120), CONFIG)
    assert change is Change.REJOINED and state == PairState()


def test_a_together_judgement_breaks_the_run() -> None:
    state, _ = advance(PairState(), fix(0, 0), fix(900, 0), CONFIG)
    state, _ = advance(state, fix(0, 30), fix(20, 30), CONFIG)
    assert state == PairState()


def test_state_survives_json() -> None:
    state = PairState(False, 1, 1234)
    assert PairState.from_json(state.to_json()) == state
    assert DeviceFix.from_json(fix(10, 1).to_json()) == fix(10, 1)


@PROPERTY
@given(
    bearing=st.floats(0, 360),
    accuracy_a=st.floats(1, 2000),
    accuracy_b=st.floats(1, 2000),
    share=st.floats(0, 1),
    dt_s=st.floats(0, 300),
    speed_a=st.none() | st.floats(0, 100),
    speed_b=st.none() | st.floats(0, 100),
    distance=st.floats(10, 5000),
)
def test_never_alarms_within_the_accuracy_sum_plus_the_distance(
    bearing: float,
    accuracy_a: float,
    accuracy_b: float,
    share: float,
    dt_s: float,
    speed_a: float | None,
    speed_b: float | None,
    distance: float,
) -> None:
    """Two fixes within their accuracies plus distance_m are never judged apart, and no
    run of such judgements opens an alert, whatever the times between them and the speeds."""
    config = SeparationConfig(distance_m=distance)
    gap = share * (accuracy_a + accuracy_b + distance)
    lat, lon = offset(
        *HOME, gap * math.cos(math.radians(bearing)), gap * math.sin(math.radians(bearing))
    )
    a = DeviceFix(0, *HOME, accuracy_a, speed_a)
    b = DeviceFix(round(dt_s * 1000), lat, lon, accuracy_b, speed_b)
    assume(distance_m(a, b) <= accuracy_a + accuracy_b + distance)
    assert judge(a, b, config) is not Verdict.APART
    state = PairState()
    for step in range(5):
        later = step * 60_000
        state, change = advance(
            state,
            DeviceFix(a.ts_ms + later, a.lat, a.lon, a.accuracy_m, speed_a),
            DeviceFix(b.ts_ms + later, b.lat, b.lon, b.accuracy_m, speed_b),
            config,
        )
        assert change is None and not state.apart


@PROPERTY
@given(accuracy=st.floats(1, 100), extra=st.floats(1, 3000), dt_s=st.floats(0, 120))
def test_still_devices_far_beyond_every_allowance_are_apart(
    accuracy: float, extra: float, dt_s: float
) -> None:
    """The rule can fail: still devices further apart than the whole slack are apart."""
    slack = 2 * accuracy + CONFIG.min_speed_mps * dt_s
    a, b = fix(0, 0, accuracy), fix(CONFIG.distance_m + slack + extra + 5, dt_s, accuracy)
    assert judge(a, b, CONFIG) is Verdict.APART
