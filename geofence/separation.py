"""Device separation (人机分离): is a person's band far from their phone? Fixes in, verdicts out.

Two fixes are never taken at the same instant, and each is only known within its accuracy
radius, so the judgement bounds the true distance between the two devices:

    lower = d − accuracy_a − accuracy_b − motion,   upper = d + accuracy_a + accuracy_b + motion

where d is the geodesic distance between the fixes and motion is how far either device could
have moved between the two fix times: the faster of the two devices' own recent speeds (from
each one's previous fix; `unknown_speed_mps` when there is none), at least `min_speed_mps`,
times the time between the fixes. Apart for certain when lower > distance_m, together for
certain when upper ≤ distance_m, otherwise uncertain (changes no state). A pair opens only
after `confirmations` certain-apart judgements in a row spanning `min_apart_s`; one certain
together judgement ends it. So two fixes within their accuracy sum plus distance_m never
alarm, whatever their times or speeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pyproj import Geod

GEOD = Geod(ellps="WGS84")
SPEED_WINDOW_MS = 600_000  # a device's previous fix older than this says nothing of its speed


@dataclass(frozen=True)
class SeparationConfig:
    distance_m: float = 500.0  # apart by more than this, for certain, is a separation
    pair_s: float = 120.0  # fixes further apart in time are not compared
    unknown_speed_mps: float = 40.0  # a device's speed when it has no recent previous fix
    min_speed_mps: float = 2.0  # at least a brisk walk, whatever the fixes say
    confirmations: int = 2  # certain-apart judgements in a row before the alert
    min_apart_s: float = 60.0  # ... spanning at least this long


@dataclass(frozen=True)
class DeviceFix:
    """A device's latest fix; `speed_mps` is its speed since its previous fix, if recent."""

    ts_ms: int
    lat: float
    lon: float
    accuracy_m: float
    speed_mps: float | None = None

    def to_json(self) -> list[Any]:
        return [self.ts_ms, self.lat, self.lon, self.accuracy_m, self.speed_mps]

    @classmethod
    def from_json(cls, data: list[Any]) -> DeviceFix:
        ts_ms, lat, lon, accuracy_m, speed_mps = data
        return cls(int(ts_ms), lat, lon, accuracy_m, speed_mps)


class Verdict(StrEnum):
    APART = "apart"
    TOGETHER = "together"
    UNCERTAIN = "uncertain"  # the bounds straddle the threshold, or the fixes are not close in time


class Change(StrEnum):
    SEPARATED = "separated"
    REJOINED = "rejoined"


@dataclass(frozen=True)
class PairState:
    apart: bool = False
    run: int = 0  # certain-apart judgements in a row
    run_since_ms: int | None = None  # the fix time the run began at

    def to_json(self) -> dict[str, Any]:
        return {"apart": self.apart, "run": self.run, "since": self.run_since_ms}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PairState:
        if not data:
            return cls()
        return cls(bool(data["apart"]), int(data["run"]), data["since"])


def distance_m(a: DeviceFix, b: DeviceFix) -> float:
    """Geodesic distance on the WGS-84 ellipsoid (pyproj wants lon before lat, here once)."""
    _, _, metres = GEOD.inv(a.lon, a.lat, b.lon, b.lat)
    return float(metres)


def next_fix(previous: DeviceFix | None, new: DeviceFix) -> DeviceFix:
    """The new fix, carrying the speed shown since the device's previous one (if recent)."""
    if previous is None or not 0 < new.ts_ms - previous.ts_ms <= SPEED_WINDOW_MS:
        return DeviceFix(new.ts_ms, new.lat, new.lon, new.accuracy_m, None)
    speed = distance_m(previous, new) / ((new.ts_ms - previous.ts_ms) / 1000)
    return DeviceFix(new.ts_ms, new.lat, new.lon, new.accuracy_m, speed)


def bounds_m(a: DeviceFix, b: DeviceFix, config: SeparationConfig) -> tuple[float, float]:
    """Least and most the two devices can have been apart, given accuracies and motion."""
    speeds = [config.unknown_speed_mps if f.speed_mps is None else f.speed_mps for f in (a, b)]
    motion = max(config.min_speed_mps, *speeds) * abs(a.ts_ms - b.ts_ms) / 1000
    slack = a.accuracy_m + b.accuracy_m + motion
    d = distance_m(a, b)
    return d - slack, d + slack


def judge(a: DeviceFix, b: DeviceFix, config: SeparationConfig) -> Verdict:
    if abs(a.ts_ms - b.ts_ms) > config.pair_s * 1000:
        return Verdict.UNCERTAIN
    lower, upper = bounds_m(a, b, config)
    if lower > config.distance_m:
        return Verdict.APART
    if upper <= config.distance_m:
        return Verdict.TOGETHER
    return Verdict.UNCERTAIN


def advance(
    state: PairState, a: DeviceFix, b: DeviceFix, config: SeparationConfig
) -> tuple[PairState, Change | None]:
    """One judgement of the pair's latest fixes: the new state, and the change it makes."""
    verdict = judge(a, b, config)
    at_ms = max(a.ts_ms, b.ts_ms)
    if verdict is Verdict.TOGETHER:
        return PairState(), Change.REJOINED if state.apart else None
    if verdict is Verdict.UNCERTAIN or state.apart:
        return state, None
    since = at_ms if state.run_since_ms is None else state.run_since_ms
    run = PairState(False, state.run + 1, since)
    if run.run >= config.confirmations and at_ms - since >= config.min_apart_s * 1000:
        return PairState(True, 0, None), Change.SEPARATED
    return run, None
