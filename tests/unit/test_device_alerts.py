"""device_alerts' shortcut for quiet reports answers exactly as its full loop does."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import judges
from alerts.verdicts import fix_order
from pings.batch import StreamPing
from tests.stream_pings import stream_ping


class Untouchable:
    """A Verdicts stand-in for reports that must need none: any use raises."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"verdicts.{name} used")


async def full_loop(v: Any, pings: list[StreamPing], state: dict[str, Any]) -> list[Any]:
    """device_alerts as it was before the shortcut: every report in fix order."""
    flags: dict[str, Any] = state.get(judges.DEVICE_KEY, {})
    events: list[Any] = []
    for device_id in sorted({p["device_id"] for p in pings}):
        mine = sorted((p for p in pings if p["device_id"] == device_id), key=fix_order)
        flag = dict(flags.get(device_id, {}))
        for ping in mine:
            if ping["ts_ms"] <= flag.get("last_ms", -1):
                continue
            flag["last_ms"] = ping["ts_ms"]
            if bool(ping["tamper"]) != bool(flag.get("tamper")):
                events += await judges._tamper(v, ping, flag)
            if ping["battery_pct"] is not None:
                events += await judges._battery(v, ping, ping["battery_pct"], flag)
        flags[device_id] = flag
    state[judges.DEVICE_KEY] = flags
    return events


def report(n: int, device: str, ts_ms: int, tamper: bool, battery: float | None) -> StreamPing:
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


async def outcome(judge: Any, pings: list[StreamPing], state: dict[str, Any]) -> Any:
    try:
        return await judge(Untouchable(), pings, state), state
    except AssertionError as exc:  # the reports needed verdicts: an alert would change
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(reports, flags)
async def test_the_shortcut_answers_as_the_full_loop(
    rows: list[tuple[str, int, bool, float | None]], known: dict[str, Any]
) -> None:
    pings = [report(n, *row) for n, row in enumerate(rows)]
    before = {judges.DEVICE_KEY: known} if known else {}
    expected = await outcome(full_loop, pings, copy.deepcopy(before))
    assert await outcome(judges.device_alerts, pings, copy.deepcopy(before)) == expected
