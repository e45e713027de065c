"""Per-person allowed-area state machine: certain pings with dwell and hysteresis, pure.

Time comes in as data (epoch ms on each fix). Uncertain fixes change nothing. A fix older
than the last judged one is late: it is counted, never allowed to flip the state backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from geofence.models import INSIDE, OUTSIDE, UNCERTAIN

EVIDENCE_KEPT = 10


class Status(StrEnum):
    INSIDE = "inside"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class Thresholds:
    exit_pings: int  # consecutive certain-outside fixes before a violation
    exit_min_s: float  # ... spanning at least this long
    return_pings: int  # consecutive certain-inside fixes before the person counts as back


DEFAULT_THRESHOLDS = {
    "strict": Thresholds(exit_pings=2, exit_min_s=20.0, return_pings=2),
    "normal": Thresholds(exit_pings=3, exit_min_s=30.0, return_pings=2),
    "lenient": Thresholds(exit_pings=3, exit_min_s=60.0, return_pings=3),
}


@dataclass(frozen=True)
class Fix:
    ping_id: int
    ts_ms: int
    code: int  # INSIDE / OUTSIDE / UNCERTAIN for the allowed area


@dataclass(frozen=True)
class AreaState:
    status: Status = Status.INSIDE
    last_ts_ms: int | None = None  # fix time of the last judged fix
    run_count: int = 0  # consecutive certain fixes contradicting `status`
    run_start_ms: int = 0
    run_ping_ids: tuple[int, ...] = ()
    episode: int = 0  # ties one excursion together from exit to return
    late_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AreaState:
        if not data:
            return cls()
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["status"] = Status(fields.get("status", Status.INSIDE))
        fields["run_ping_ids"] = tuple(fields.get("run_ping_ids", ()))
        return cls(**fields)


class EventKind(StrEnum):
    EXITED = "exited"
    RETURNED = "returned"


@dataclass(frozen=True)
class AreaEvent:
    kind: EventKind
    ts_ms: int
    episode: int
    evidence_ping_ids: tuple[int, ...] = field(default=())


def advance(
    state: AreaState, fixes: Iterable[Fix], thresholds: Thresholds
) -> tuple[AreaState, list[AreaEvent]]:
    events: list[AreaEvent] = []
    for fix in sorted(fixes, key=lambda f: (f.ts_ms, f.ping_id)):
        if fix.code == UNCERTAIN:
            continue  # changes nothing, not even what counts as late
        if state.last_ts_ms is not None and fix.ts_ms <= state.last_ts_ms:
            state = replace(state, late_count=state.late_count + 1)
            continue
        state, event = _step(replace(state, last_ts_ms=fix.ts_ms), fix, thresholds)
        if event is not None:
            events.append(event)
    return state, events


def _step(state: AreaState, fix: Fix, th: Thresholds) -> tuple[AreaState, AreaEvent | None]:
    contradicts = (state.status is Status.INSIDE and fix.code == OUTSIDE) or (
        state.status is Status.OUTSIDE and fix.code == INSIDE
    )
    if not contradicts:  # certain and agreeing: the run is broken
        return replace(state, run_count=0, run_start_ms=0, run_ping_ids=()), None
    run_start = state.run_start_ms if state.run_count else fix.ts_ms
    state = replace(
        state,
        run_count=state.run_count + 1,
        run_start_ms=run_start,
        run_ping_ids=(*state.run_ping_ids, fix.ping_id)[-EVIDENCE_KEPT:],
    )
    if state.status is Status.INSIDE and _dwelled(state, fix, th):
        return _flip(state, Status.OUTSIDE, EventKind.EXITED, fix, episode=state.episode + 1)
    if state.status is Status.OUTSIDE and state.run_count >= th.return_pings:
        return _flip(state, Status.INSIDE, EventKind.RETURNED, fix, episode=state.episode)
    return state, None


def _dwelled(state: AreaState, fix: Fix, th: Thresholds) -> bool:
    return (
        state.run_count >= th.exit_pings and fix.ts_ms - state.run_start_ms >= th.exit_min_s * 1000
    )


def _flip(
    state: AreaState, status: Status, kind: EventKind, fix: Fix, *, episode: int
) -> tuple[AreaState, AreaEvent]:
    event = AreaEvent(kind, fix.ts_ms, episode, state.run_ping_ids)
    return replace(
        state, status=status, run_count=0, run_start_ms=0, run_ping_ids=(), episode=episode
    ), event
