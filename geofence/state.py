"""Per-person allowed-area state machine: certain pings with dwell and hysteresis, pure.

Time comes in as data (epoch ms on each fix). Uncertain fixes change nothing. A violation opens
after a dwell of certain-outside fixes, or at once on a few fixes *far* outside (beyond
`far_radius_m` of their accuracy), and closes after certain-inside fixes. A fix older than the
last judged one is late: judged among the other late fixes from the status the person had then,
it can prove a past excursion (events marked late) but never moves the current status.

This module steps the live fixes (`advance`). Its data is in `geofence.area_models`, the dwell
rule and thresholds in `geofence.dwell`, late fixes in `geofence.late`; callers import all of
them from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from geofence.area_models import (
    AreaEvent,
    AreaState,
    EventKind,
    Excursion,
    Fix,
    FixColumns,
    Status,
)
from geofence.dwell import (
    AGAINST,
    DEFAULT_THRESHOLDS,
    EVIDENCE_KEPT,
    FAR_ACCURACY_FACTOR,
    FAR_FLOOR_M,
    Run,
    Thresholds,
    contradicts,
    far_radius_m,
    flips,
)
from geofence.late import EXCURSIONS_KEPT, judge_late, kept_excursions, remember
from geofence.models import UNCERTAIN

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EVIDENCE_KEPT",
    "EXCURSIONS_KEPT",
    "FAR_ACCURACY_FACTOR",
    "FAR_FLOOR_M",
    "AreaEvent",
    "AreaState",
    "EventKind",
    "Excursion",
    "Fix",
    "FixColumns",
    "Run",
    "Status",
    "Thresholds",
    "advance",
    "close_open",
    "contradicts",
    "far_radius_m",
    "flips",
    "remember",
    "step_each",
]


def advance(
    state: AreaState, fixes: Iterable[Fix] | FixColumns, thresholds: Thresholds
) -> tuple[AreaState, list[AreaEvent]]:
    """The state after `fixes` (in any order, some maybe late or judged before) and the events
    they make. Fixes that cannot change more than the last judged fix take a shortcut
    (`_settled`); the rest are stepped one by one (`step_each`), the rule itself."""
    if isinstance(fixes, FixColumns):
        settled = _settled(state, *_column_span(state, fixes))
        if settled is not None:
            return settled, []
        return step_each(state, fixes.fixes(), thresholds)
    listed = list(fixes)
    settled = _settled(state, *_span(state, listed))
    if settled is not None:
        return settled, []
    return step_each(state, listed, thresholds)


def step_each(
    state: AreaState, fixes: list[Fix], thresholds: Thresholds
) -> tuple[AreaState, list[AreaEvent]]:
    """Every fix stepped through the state machine in (time, id) order."""
    ordered = [f for f in sorted(fixes, key=_order) if f.code != UNCERTAIN]
    late = [f for f in ordered if _is_late(state, f)]
    if late or not _tidy(state.excursions):
        state, events = judge_late(state, late, thresholds)
    else:  # nothing late: judge_late would give the same state back, only slower
        events = []
    live = _Live.of(state)  # fixes in order change one mutable copy, frozen once at the end
    for fix in ordered[len(late) :]:
        event = _step(live, fix, thresholds)
        if event is not None:
            events.append(event)
    return live.frozen(), events


Span = tuple[bool, tuple[int, int] | None, tuple[int, int] | None]


def _span(state: AreaState, fixes: list[Fix]) -> Span:
    """(any certain fix against the status, the first and the last certain fix by (time, id))."""
    against = AGAINST[state.status]
    if any(f.code == against for f in fixes):
        return True, None, None
    certain = [(f.ts_ms, f.ping_id) for f in fixes if f.code != UNCERTAIN]
    if not certain:
        return False, None, None
    return False, min(certain), max(certain)


def _column_span(state: AreaState, fixes: FixColumns) -> Span:
    """`_span` of columns, by numpy."""
    if (fixes.codes == AGAINST[state.status]).any():
        return True, None, None
    certain = fixes.codes != UNCERTAIN
    if not certain.any():
        return False, None, None
    ts, ids = fixes.ts_ms[certain], fixes.ping_ids[certain]
    first_ts, last_ts = int(ts.min()), int(ts.max())
    first = (first_ts, int(ids[ts == first_ts].min()))
    return False, first, (last_ts, int(ids[ts == last_ts].max()))


def _settled(
    state: AreaState, against: bool, first: tuple[int, int] | None, last: tuple[int, int] | None
) -> AreaState | None:
    """What stepping the fixes one by one gives when none of them can change more than the
    last judged fix: every certain one agrees with the status and comes after the last judged
    fix (a compliant person's fixes, nearly always). None when they may change more."""
    if against or not _tidy(state.excursions):
        return None
    if first is None or last is None:
        return state  # nothing certain: nothing changes
    open_late = bool(state.excursions) and state.excursions[-1].until_ms is None
    if open_late and state.status is Status.INSIDE:
        return None  # the first inside fix after its evidence closes it: step them
    if state.last_ts_ms is not None:
        if state.last_ping_id is None:
            if first[0] <= state.last_ts_ms:
                return None  # late, by times alone (see _is_late)
        elif first <= (state.last_ts_ms, state.last_ping_id):
            return None  # late
    s = state  # the run cleared, the last fix moved on; by position (docs/decisions/0025)
    inside_ms = last[0] if s.status is Status.INSIDE else s.inside_ms
    return AreaState(
        s.status, last[0], 0, 0, (), s.episode, s.late_count, 0, last[1], inside_ms,
        s.episode_seq, s.excursions, s.horizon_ms,
    )  # fmt: skip


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
    state.excursions, state.horizon_ms = kept_excursions((*excursions, known), state.horizon_ms)
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
