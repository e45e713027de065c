"""Per-person allowed-area state machine: certain pings with dwell and hysteresis, pure.

Time comes in as data (epoch ms on each fix). Uncertain fixes change nothing. A violation opens
after a dwell of certain-outside fixes, or at once on a few fixes *far* outside (beyond
`far_radius_m` of their accuracy), and closes after certain-inside fixes. A fix older than the
last judged one is late: judged among the other late fixes from the status the person had then,
it can prove a past excursion (events marked late) but never moves the current status.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from geofence.models import INSIDE, OUTSIDE, UNCERTAIN, FloatArray

EVIDENCE_KEPT = 10
EXCURSIONS_KEPT = 8  # known excursions remembered to judge late fixes; older late fixes are counted
FAR_FLOOR_M = 500.0  # outliers beyond the stated accuracy (multipath, Wi-Fi/cell) stay under this
FAR_ACCURACY_FACTOR = 5.0  # a 5-sigma miss: P(error > 5x a 1-sigma radius) is about 4e-6


def far_radius_m(accuracy_m: npt.ArrayLike) -> FloatArray:
    """Distance outside the area beyond which a fix is decisive: max(500 m, 5 x accuracy)."""
    accuracy = np.asarray(accuracy_m, dtype=np.float64)
    radius: FloatArray = np.maximum(FAR_FLOOR_M, FAR_ACCURACY_FACTOR * accuracy)
    return radius


class Status(StrEnum):
    INSIDE = "inside"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class Thresholds:
    """A violation opens on `exit_pings` certain-outside fixes spanning `exit_min_s`, or on
    `exit_pings` far-outside fixes however short their span: far fixes skip the dwell, not the
    count (a receiver's errors are correlated, so one bad stretch can give two far fixes).
    """

    exit_pings: int  # consecutive certain-outside fixes before a violation
    exit_min_s: float  # ... spanning at least this long, unless they are all far outside
    return_pings: int  # consecutive certain-inside fixes before the person counts as back


# Near the edge "certain" leans on the stated accuracy and on a boundary drawn along roads and
# rivers, so fixes there must dwell: for normal supervision as long as the 2-minute window that
# tells a flap from an excursion, for strict a little less. Far fixes catch a real departure
# within a few pings anyway; three of them, because receivers also err in pairs (GeoLife has two
# fixes 500 m out after a gap, back inside a second later: with two, strict flapped 4 times).
DEFAULT_THRESHOLDS = {
    "strict": Thresholds(exit_pings=3, exit_min_s=90.0, return_pings=2),
    "normal": Thresholds(exit_pings=3, exit_min_s=120.0, return_pings=2),
    "lenient": Thresholds(exit_pings=3, exit_min_s=300.0, return_pings=3),
}


@dataclass(frozen=True)
class Fix:
    ping_id: int
    ts_ms: int
    code: int  # INSIDE / OUTSIDE / UNCERTAIN for the allowed area
    far: bool = False  # certainly outside by more than far_radius_m(accuracy)


@dataclass(frozen=True)
class Excursion:
    """A known stretch outside: after `since_ms` (the last certain-inside fix before it, None if
    none was seen) up to `until_ms` (the return, None while unseen). Late fixes in it are old news.
    """

    episode: int
    since_ms: int | None
    until_ms: int | None
    seen_ms: int  # the last outside evidence
    late: bool = False

    def covers(self, ts_ms: int) -> bool:
        after = self.since_ms is None or ts_ms > self.since_ms
        return after and (self.until_ms is None or ts_ms <= self.until_ms)


@dataclass(frozen=True)
class AreaState:
    status: Status = Status.INSIDE
    last_ts_ms: int | None = None  # fix time of the last judged fix
    run_count: int = 0  # consecutive certain fixes contradicting `status`
    run_start_ms: int = 0
    run_ping_ids: tuple[int, ...] = ()
    episode: int = 0  # ties one excursion together from exit to return
    late_count: int = 0
    run_far: int = 0  # far-outside fixes in the run
    last_ping_id: int | None = None  # with last_ts_ms: a redelivered fix is already judged
    inside_ms: int | None = None  # the last certain-inside fix judged in order
    episode_seq: int = 0  # the highest episode number given out (late excursions take new ones)
    excursions: tuple[Excursion, ...] = ()  # the last few, oldest first
    horizon_ms: int | None = None  # late fixes at or before this are counted, not judged

    def to_json(self) -> dict[str, Any]:
        # what asdict() gives, without its deep copy of every field (once per person per batch)
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["excursions"] = tuple(asdict(e) for e in self.excursions)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AreaState:
        if not data:
            return cls()
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["status"] = Status(fields.get("status", Status.INSIDE))
        fields["run_ping_ids"] = tuple(fields.get("run_ping_ids", ()))
        fields["excursions"] = tuple(Excursion(**e) for e in fields.get("excursions", ()))
        episodes = (fields.get("episode_seq", 0), fields.get("episode", 0))
        return cls(**fields | {"episode_seq": max(episodes)})


class EventKind(StrEnum):
    EXITED = "exited"
    RETURNED = "returned"


@dataclass(frozen=True)
class AreaEvent:
    kind: EventKind
    ts_ms: int
    episode: int
    evidence_ping_ids: tuple[int, ...] = field(default=())  # the last one triggered the event
    late: bool = False  # proven by late fixes: a past excursion, not the current status


@dataclass(frozen=True)
class Run:
    """Consecutive certain fixes against a status; uncertain ones neither count nor break it."""

    count: int = 0
    start_ms: int = 0
    far: int = 0
    ping_ids: tuple[int, ...] = ()

    def extended(self, fix: Fix) -> Run:
        return Run(
            self.count + 1,
            self.start_ms if self.count else fix.ts_ms,
            self.far + int(fix.far and fix.code == OUTSIDE),
            (*self.ping_ids, fix.ping_id)[-EVIDENCE_KEPT:],
        )


def contradicts(status: Status, code: int) -> bool:
    return (status is Status.INSIDE and code == OUTSIDE) or (
        status is Status.OUTSIDE and code == INSIDE
    )


def flips(status: Status, run: Run, ts_ms: int, th: Thresholds) -> bool:
    """Distance-aware dwell: far fixes are decisive, fixes near the edge need the full dwell."""
    if status is Status.OUTSIDE:
        return run.count >= th.return_pings
    dwelled = run.count >= th.exit_pings and ts_ms - run.start_ms >= th.exit_min_s * 1000
    return dwelled or run.far >= th.exit_pings


def advance(
    state: AreaState, fixes: Iterable[Fix], thresholds: Thresholds
) -> tuple[AreaState, list[AreaEvent]]:
    ordered = [f for f in sorted(fixes, key=_order) if f.code != UNCERTAIN]
    late = [f for f in ordered if _is_late(state, f)]
    if late or not _tidy(state.excursions):
        state, events = _judge_late(state, late, thresholds)
    else:  # nothing late: _judge_late would give the same state back, only slower
        events = []
    live = _Live.of(state)  # fixes in order change one mutable copy, frozen once at the end
    for fix in ordered[len(late) :]:
        event = _step(live, fix, thresholds)
        if event is not None:
            events.append(event)
    return live.frozen(), events


def _order(fix: Fix) -> tuple[int, int]:
    return fix.ts_ms, fix.ping_id


def _is_late(state: AreaState, fix: Fix) -> bool:
    if state.last_ts_ms is None:
        return False
    if state.last_ping_id is None:  # saved before ping ids were kept: times alone
        return fix.ts_ms <= state.last_ts_ms
    return _order(fix) <= (state.last_ts_ms, state.last_ping_id)


def _tidy(excursions: tuple[Excursion, ...]) -> bool:
    """As `remember` leaves them: few enough, oldest first."""
    seen = [e.seen_ms for e in excursions]
    return len(seen) <= EXCURSIONS_KEPT and seen == sorted(seen)


@dataclass(slots=True)
class _Live:
    """AreaState while `advance` works through fixes in order: a replace() per fix was most
    of the batched evaluator's time."""

    status: Status
    last_ts_ms: int | None
    run_count: int
    run_start_ms: int
    run_ping_ids: tuple[int, ...]
    episode: int
    late_count: int
    run_far: int
    last_ping_id: int | None
    inside_ms: int | None
    episode_seq: int
    excursions: tuple[Excursion, ...]
    horizon_ms: int | None

    @classmethod
    def of(cls, s: AreaState) -> _Live:
        return cls(
            s.status, s.last_ts_ms, s.run_count, s.run_start_ms, s.run_ping_ids, s.episode,
            s.late_count, s.run_far, s.last_ping_id, s.inside_ms, s.episode_seq, s.excursions,
            s.horizon_ms,
        )  # fmt: skip

    def frozen(self) -> AreaState:
        return AreaState(
            self.status, self.last_ts_ms, self.run_count, self.run_start_ms, self.run_ping_ids,
            self.episode, self.late_count, self.run_far, self.last_ping_id, self.inside_ms,
            self.episode_seq, self.excursions, self.horizon_ms,
        )  # fmt: skip

    def run(self) -> Run:
        return Run(self.run_count, self.run_start_ms, self.run_far, self.run_ping_ids)

    def set_run(self, run: Run) -> None:
        self.run_count, self.run_start_ms = run.count, run.start_ms
        self.run_far, self.run_ping_ids = run.far, run.ping_ids

    def clear_run(self) -> None:
        self.run_count, self.run_start_ms, self.run_far, self.run_ping_ids = 0, 0, 0, ()


def _step(state: _Live, fix: Fix, th: Thresholds) -> AreaEvent | None:
    state.last_ts_ms, state.last_ping_id = fix.ts_ms, fix.ping_id
    if not contradicts(state.status, fix.code):  # certain and agreeing: the run is broken
        _agree(state, fix)
        return None
    run = state.run().extended(fix)
    state.set_run(run)
    if not flips(state.status, run, fix.ts_ms, th):
        return None
    if state.status is Status.INSIDE:
        return _exit(state, fix, run)
    return _return(state, fix, run)


def _agree(state: _Live, fix: Fix) -> None:
    state.clear_run()
    if state.status is Status.INSIDE:
        state.inside_ms = fix.ts_ms
        state.excursions = close_open(state.excursions, fix.ts_ms)


def close_open(excursions: tuple[Excursion, ...], inside_ms: int) -> tuple[Excursion, ...]:
    """A certain-inside fix after an open late excursion's evidence ends it (no return was seen)."""
    if not excursions or excursions[-1].until_ms is not None:
        return excursions
    last = excursions[-1]
    if inside_ms <= last.seen_ms:
        return excursions
    return (*excursions[:-1], replace(last, until_ms=inside_ms))


def _exit(state: _Live, fix: Fix, run: Run) -> AreaEvent:
    open_late = state.excursions and state.excursions[-1].until_ms is None
    if open_late:  # late fixes already proved this excursion and no certain inside since
        episode, seq = state.excursions[-1].episode, state.episode_seq
        excursions = state.excursions[:-1]
        since = state.excursions[-1].since_ms
    else:
        episode = seq = state.episode_seq + 1
        excursions, since = state.excursions, state.inside_ms
    known = Excursion(episode, since, None, fix.ts_ms)
    _flip(state, Status.OUTSIDE, episode)
    state.episode_seq = seq
    state.excursions, state.horizon_ms = _kept((*excursions, known), state.horizon_ms)
    return AreaEvent(EventKind.EXITED, fix.ts_ms, episode, run.ping_ids)


def _return(state: _Live, fix: Fix, run: Run) -> AreaEvent:
    excursions = state.excursions
    if excursions and excursions[-1].until_ms is None:
        excursions = (*excursions[:-1], replace(excursions[-1], until_ms=fix.ts_ms))
    _flip(state, Status.INSIDE, state.episode)
    state.inside_ms, state.excursions = fix.ts_ms, excursions
    return AreaEvent(EventKind.RETURNED, fix.ts_ms, state.episode, run.ping_ids)


def _flip(state: _Live, status: Status, episode: int) -> None:
    state.status, state.episode = status, episode
    state.clear_run()


def remember(state: AreaState, added: Sequence[Excursion] = ()) -> AreaState:
    """Keep the last few excursions: late fixes before the kept ones are only counted."""
    kept, horizon = _kept((*state.excursions, *added), state.horizon_ms)
    return replace(state, excursions=kept, horizon_ms=horizon)


def _kept(
    excursions: Sequence[Excursion], horizon_ms: int | None
) -> tuple[tuple[Excursion, ...], int | None]:
    ordered = sorted(excursions, key=lambda e: e.seen_ms)
    dropped, kept = ordered[:-EXCURSIONS_KEPT], ordered[-EXCURSIONS_KEPT:]
    if dropped:
        horizon_ms = max(e.until_ms if e.until_ms is not None else e.seen_ms for e in dropped)
    return tuple(kept), horizon_ms


def _judge_late(
    state: AreaState, late: list[Fix], th: Thresholds
) -> tuple[AreaState, list[AreaEvent]]:
    """Late fixes in known excursions are old news. The rest are judged among themselves, split
    at every certain-inside fix still known (the live runs were broken there too)."""
    state = replace(state, late_count=state.late_count + len(late))
    known_inside = _known_inside(state)
    gaps: dict[int, list[Fix]] = {}
    for fix in late:
        past_horizon = state.horizon_ms is None or fix.ts_ms > state.horizon_ms
        if past_horizon and not any(e.covers(fix.ts_ms) for e in state.excursions):
            gaps.setdefault(bisect_left(known_inside, fix.ts_ms), []).append(fix)
    events: list[AreaEvent] = []
    found: list[Excursion] = []
    for gap, fixes in gaps.items():
        since = known_inside[gap - 1] if gap else None
        until = known_inside[gap] if gap < len(known_inside) else None
        gap_events, gap_found = _judge_gap(fixes, th, since=since, seq=state.episode_seq)
        state = replace(state, episode_seq=state.episode_seq + len(gap_found))
        events += gap_events
        found += [_closed_by(e, until) for e in gap_found]
    return remember(state, found), events


def _known_inside(state: AreaState) -> list[int]:
    marks = {state.inside_ms}
    for e in state.excursions:
        marks |= {e.since_ms, e.until_ms}
    return sorted(m for m in marks if m is not None)


def _closed_by(excursion: Excursion, inside_ms: int | None) -> Excursion:
    if excursion.until_ms is not None or inside_ms is None or inside_ms <= excursion.seen_ms:
        return excursion
    return replace(excursion, until_ms=inside_ms)


def _judge_gap(
    fixes: list[Fix], th: Thresholds, *, since: int | None, seq: int
) -> tuple[list[AreaEvent], list[Excursion]]:
    """Late fixes of one known-inside stretch, among themselves, by the same rules as live ones."""
    status, run = Status.INSIDE, Run()
    events: list[AreaEvent] = []
    found: list[Excursion] = []
    for fix in fixes:
        if status is Status.OUTSIDE and fix.code == OUTSIDE:
            found[-1] = replace(found[-1], seen_ms=fix.ts_ms)
        if not contradicts(status, fix.code):
            run, since = Run(), (fix.ts_ms if status is Status.INSIDE else since)
            continue
        run = run.extended(fix)
        if not flips(status, run, fix.ts_ms, th):
            continue
        if status is Status.INSIDE:
            seq += 1
            found.append(Excursion(seq, since, None, fix.ts_ms, late=True))
            kind, status = EventKind.EXITED, Status.OUTSIDE
        else:
            found[-1] = replace(found[-1], until_ms=fix.ts_ms)
            kind, status, since = EventKind.RETURNED, Status.INSIDE, fix.ts_ms
        events.append(AreaEvent(kind, fix.ts_ms, seq, run.ping_ids, late=True))
        run = Run()
    return events, found
