"""The timers' prefilter: a person's quietest device, from the state the evaluator keeps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerts.person_store import PersonRow
from evaluator import device_judges
from pings.clock import ms_to_dt


def person(bands: tuple[str, ...], phones: tuple[str, ...]) -> PersonRow:
    return PersonRow(1, "strict", 1, "/1/", (1,), band_ids=bands, phone_ids=phones)


def test_a_device_never_heard_leaves_no_quietest() -> None:
    state = {device_judges.DEVICE_KEY: {"b": {"last_ms": 5}}}
    assert device_judges.quietest_fix(person(("b",), ("p",)), state) is None
    assert device_judges.quietest_fix(person((), ()), state) is None


def test_a_revoked_device_left_in_the_state_does_not_count() -> None:
    state = {device_judges.DEVICE_KEY: {"b": {"last_ms": 9_000}, "gone": {"last_ms": 1}}}
    assert device_judges.quietest_fix(person(("b",), ()), state) == ms_to_dt(9_000)


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 2**40), min_size=1))
def test_the_quietest_is_the_oldest_report_of_any_live_device(reports: dict[str, int]) -> None:
    """No device can be older than it: skipping persons whose quietest is recent hides none."""
    devices = tuple(sorted(reports))
    state = {device_judges.DEVICE_KEY: {d: {"last_ms": t} for d, t in reports.items()}}
    found = device_judges.quietest_fix(person(devices[:1], devices[1:]), state)
    assert found == ms_to_dt(min(reports.values()))
