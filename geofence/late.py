"""Late fixes and the excursions remembered to judge them: a fix older than the last judged one
can prove a past excursion (events marked late) but never moves the current status.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace

from geofence.area_models import AreaEvent, AreaState, EventKind, Excursion, Fix, Status
from geofence.dwell import Run, Thresholds, contradicts, flips
from geofence.models import OUTSIDE

EXCURSIONS_KEPT = 8  # known excursions remembered to judge late fixes; older late fixes are counted


def remember(state: AreaState, added: Sequence[Excursion] = ()) -> AreaState:
    """Keep the last few excursions: late fixes before the kept ones are only counted."""
    kept, horizon = kept_excursions((*state.excursions, *added), state.horizon_ms)
    return replace(state, excursions=kept, horizon_ms=horizon)


def kept_excursions(
    excursions: Sequence[Excursion], horizon_ms: int | None
) -> tuple[tuple[Excursion, ...], int | None]:
    ordered = sorted(excursions, key=lambda e: e.seen_ms)
    dropped, kept = ordered[:-EXCURSIONS_KEPT], ordered[-EXCURSIONS_KEPT:]
    if dropped:
        horizon_ms = max(e.until_ms if e.until_ms is not None else e.seen_ms for e in dropped)
    return tuple(kept), horizon_ms


def judge_late(
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
