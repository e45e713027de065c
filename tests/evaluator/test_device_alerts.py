"""device_flags' shortcut for quiet reports answers exactly as its full loop does, and the
judge is pure: the state it was given is left as it was."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.person_store import PersonRow
from evaluator import device_judges
from evaluator.decisions import Batch, Decision, Readings, State
from evaluator.fence_cache import FenceCache
from geofence.state import DEFAULT_THRESHOLDS, AreaState
from pings.batch import PingBatch
from pings.clock import us_to_ms
from tests.stream_pings import PingRow, stream_ping

PERSON = PersonRow(1, "strict", 1, "/1/", (1,))


def batch_of(pings: list[PingRow]) -> Batch:
    columns = PingBatch.of_rows(pings)
    ts_ms = us_to_ms(columns.ts_us)
    return Batch(
        columns,
        slice(0, len(columns)),
        ts_ms,
        Readings.of(columns, ts_ms),
        (columns.lat, columns.lon, columns.accuracy_m),
        np.zeros(len(pings), dtype=np.int8),
        np.zeros(len(pings), dtype=np.bool_),
        int(np.argmax(ts_ms)),
        DEFAULT_THRESHOLDS["strict"],
        AreaState(),
        FenceCache(),
    )


def full_loop(pings: list[PingRow], state: State) -> tuple[State, list[Decision]]:
    """device_flags as it was before the shortcut: every report in fix order, read as rows."""
    batch = batch_of(pings)
    flags: dict[str, Any] = copy.deepcopy(state.get(device_judges.DEVICE_KEY, {}))
    decisions: list[Decision] = []
    for device_id in sorted({p["device_id"] for p in pings}):
        mine = sorted(
            (place for place, p in enumerate(pings) if p["device_id"] == device_id),
            key=lambda place: (pings[place]["ts_ms"], pings[place]["id"]),
        )
        flag = dict(flags.get(device_id, {}))
        for place in mine:
            ping = pings[place]
            if ping["ts_ms"] <= flag.get("last_ms", -1):
                continue
            flag["last_ms"] = ping["ts_ms"]
            if bool(ping["tamper"]) != bool(flag.get("tamper")):
                decisions += device_judges.tamper(PERSON, batch, place, flag)
            level = ping["battery_pct"]
            if level is not None:
                decisions += device_judges.battery(PERSON, batch, place, level, flag)
        flags[device_id] = flag
    return {**state, device_judges.DEVICE_KEY: flags}, decisions


def report(n: int, device: str, ts_ms: int, tamper: bool, battery: float | None) -> PingRow:
    return stream_ping(
        n, person_id=1, device_id=device, ts_ms=ts_ms, tamper=tamper, battery_pct=battery
    )


reports = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(0, 50),
        st.sampled_from([False, False, False, True]),
        st.sampled_from([None, None, None, 0.0, 10.0, 50.0]),
    ),
    min_size=1,
    max_size=12,
)
flags = st.dictionaries(
    st.sampled_from(["a", "b"]),
    st.fixed_dictionaries(
        {},
        optional={
            "last_ms": st.integers(-1, 50),
            "tamper": st.booleans(),
            "low": st.booleans(),
        },
    ),
)


@settings(max_examples=400, deadline=None)
@given(reports, flags)
def test_the_shortcut_answers_as_the_full_loop(
    rows: list[tuple[str, int, bool, float | None]], known: dict[str, Any]
) -> None:
    pings = [report(n, *row) for n, row in enumerate(rows)]
    before = {device_judges.DEVICE_KEY: known} if known else {}
    untouched = copy.deepcopy(before)
    expected = full_loop(pings, copy.deepcopy(before))
    assert device_judges.device_flags(PERSON, batch_of(pings), before) == expected
    assert before == untouched  # pure: the saved state is the caller's
