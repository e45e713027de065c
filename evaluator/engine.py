"""Evaluator: judges each person's pings against their fences and rules, and writes the alerts
and events the judges decided.

Per person: the pings are classified against the allowed area (one vectorised call per fence
set), each judge of the pipeline (`judges`) answers the new state and its decisions, and the
one writer (evaluator.writer) applies them. State, alerts and events are written in one
transaction; the stream entry is acknowledged and hubs are woken only after commit (a crash in
between redelivers the entry, and the state machine sees those fixes as already judged).
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import numpy as np

from alerts import outbox, person_store
from alerts.models import EventType, NewEvent
from evaluator import area_judges, device_judges, state_store, writer
from evaluator import metrics as evaluation_metrics
from evaluator.coalesce import GATHER_S, MAX_PINGS_PER_TRANSACTION, Coalescer
from evaluator.decisions import Batch, Decision, Judge, Readings, State
from evaluator.fence_cache import FenceCache, Points
from evaluator.person_cache import PersonCache
from evaluator.separation import separation
from geofence import OUTSIDE
from geofence.models import BoolArray, CodeArray
from geofence.separation import SeparationConfig
from geofence.state import DEFAULT_THRESHOLDS, AreaState, Thresholds, far_radius_m
from pings.batch import PingBatch
from pings.clock import ms_to_dt, us_to_ms
from pings.pg import Conn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluatorConfig:
    position_interval_s: float
    max_pings_per_transaction: int = MAX_PINGS_PER_TRANSACTION
    gather_s: float = GATHER_S  # a busy worker's wait before a transaction (evaluator.coalesce)
    separation: SeparationConfig = field(default_factory=SeparationConfig)  # 人机分离


class Evaluator:
    def __init__(self, pool: asyncpg.Pool, config: EvaluatorConfig) -> None:
        self.pool = pool
        self.config = config
        self.fences = FenceCache()
        self.persons = PersonCache()
        self.coalescer = Coalescer(
            self._evaluate, max_pings=config.max_pings_per_transaction, gather_s=config.gather_s
        )
        self.judges = judges(config)

    async def evaluate(
        self,
        pings: PingBatch,
        progress: Sequence[state_store.Progress] = (),
        published_event_ids: Sequence[int] = (),
    ) -> list[int]:
        """Judge a batch; answers the ids of the events it committed.

        The partitions' progress commits with the judgement itself; events published since
        the last commit move the publication watermark with the new events' ids. Concurrent
        calls share one transaction (evaluator.coalesce).
        """
        return await self.coalescer.submit(pings, progress, published_event_ids)

    async def _evaluate(
        self,
        pings: PingBatch,
        progress: list[state_store.Progress],
        published_event_ids: list[int],
    ) -> list[int]:
        evaluation_metrics.TRANSACTION_PINGS.observe(len(pings))
        ordered, spans = pings.by_person()
        by_person = dict(spans)
        async with self.pool.acquire() as conn, conn.transaction():
            persons, states = await self.persons.lock(conn, person_ids=sorted(by_person))
            await self.fences.refresh(conn, persons.values())
            batches = self._batches(persons, states, ordered, by_person)
            events: list[NewEvent] = []
            saved: list[state_store.SavedState] = []
            for person_id in sorted(persons):
                new_state, person_events = await self._judge(
                    conn, persons[person_id], states.get(person_id, {}), batches[person_id]
                )
                saved.append(new_state)
                events += person_events
            await state_store.save_progress(conn, states=saved, progress=progress)
            return await outbox.append_events(
                conn, events=events, published_through=max(published_event_ids, default=0)
            )

    def _batches(
        self,
        persons: dict[int, person_store.PersonRow],
        states: dict[int, State],
        ordered: PingBatch,
        by_person: dict[int, slice],
    ) -> dict[int, Batch]:
        """Every person's Batch for the judges: their pings classified against their allowed
        area, one vectorised call per distinct fence set (a city's people mostly share one)
        instead of one per person. `ordered` is the batch by person, `by_person` each person's
        span of it, `states` their saved states."""
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for person_id, person in persons.items():
            groups[person.allowed_fence_ids].append(person_id)
        times = us_to_ms(ordered.ts_us)  # the one conversion to the machines' milliseconds
        readings = Readings.of(ordered, times)
        batches: dict[int, Batch] = {}
        for fence_ids, members in groups.items():
            spans = [by_person[person_id] for person_id in members]
            every = len(groups) == 1 and len(spans) == len(by_person)
            points, offsets = points_of_spans(ordered, spans, every=every)
            codes = self.fences.classify(fence_ids, points)
            far = self._far_outside(fence_ids, points, codes)
            for person_id, span, start in zip(members, spans, offsets, strict=True):
                part = slice(start, start + span.stop - span.start)
                mine = readings.cut(span)
                saved_area = states.get(person_id, {}).get(area_judges.AREA_KEY)
                batches[person_id] = Batch(
                    ordered,
                    span,
                    times[span],
                    mine,
                    (points[0][part], points[1][part], points[2][part]),
                    codes[part],
                    far[part],
                    mine.times.index(max(mine.times)),  # the newest fix, first of equal times
                    thresholds_for(persons[person_id]),
                    AreaState.from_json(saved_area),
                    self.fences,
                )
        return batches

    async def _judge(
        self,
        conn: Conn,
        person: person_store.PersonRow,
        saved: State,
        batch: Batch,
    ) -> tuple[state_store.SavedState, list[NewEvent]]:
        state = saved
        decisions: list[Decision] = []
        for judge in self.judges:
            state, found = judge(person, batch, state)
            if found:
                decisions += found
        events = await writer.write(conn, person, decisions) if decisions else []
        area = state[area_judges.AREA_KEY]
        latest_ms = batch.readings.times[batch.latest]
        if self._position_due(saved, latest_ms):
            events.append(position_event(person, batch, str(area["status"])))
            state = {**state, "last_position_ms": latest_ms}
        last_ts_ms = area.get("last_ts_ms")
        last_ts = ms_to_dt(last_ts_ms) if last_ts_ms is not None else None
        quietest = device_judges.quietest_fix(person, state)
        where = batch.position(batch.latest)
        return state_store.SavedState(
            person.id, state, last_ts, where["lat"], where["lon"], quietest
        ), events

    def _far_outside(
        self, fence_ids: tuple[int, ...], points: Points, codes: CodeArray
    ) -> BoolArray:
        """Certainly more than far_radius_m(accuracy) out: decisive, skips the dwell."""
        far = np.zeros(len(codes), dtype=np.bool_)
        out = np.flatnonzero(codes == OUTSIDE)
        if len(out):
            lat, lon, acc = (a[out] for a in points)
            codes_far = self.fences.classify(fence_ids, (lat, lon, acc), far_radius_m(acc))
            far[out] = codes_far == OUTSIDE
        return far

    def _position_due(self, saved: dict[str, Any], latest_ms: int) -> bool:
        last_ms = int(saved.get("last_position_ms", 0))
        return latest_ms - last_ms >= self.config.position_interval_s * 1000


def judges(config: EvaluatorConfig) -> list[Judge]:
    """The pipeline, in the order its decisions are written (and their events numbered)."""
    return [
        area_judges.allowed_area,
        area_judges.exclusion_zones,
        area_judges.curfews,
        device_judges.device_flags,
        device_judges.reconnections,
        separation(config.separation),
        device_judges.person_heard,
    ]


def points_of_spans(
    ordered: PingBatch, spans: list[slice], *, every: bool
) -> tuple[Points, list[int]]:
    """The positions of these persons' spans of the batch, and where each span starts in
    them: the batch's own columns when the spans are all of it, views when they are one run
    of it (no copy either way), else the spans gathered."""
    columns = (ordered.lat, ordered.lon, ordered.accuracy_m)
    if every:
        return columns, [span.start for span in spans]
    if all(a.stop == b.start for a, b in itertools.pairwise(spans)):
        run = slice(spans[0].start, spans[-1].stop)
        lat, lon, accuracy_m = (column[run] for column in columns)
        return (lat, lon, accuracy_m), [span.start - run.start for span in spans]
    places = np.concatenate([np.arange(span.start, span.stop) for span in spans])
    lat, lon, accuracy_m = (column[places] for column in columns)
    sizes = [span.stop - span.start for span in spans]
    return (lat, lon, accuracy_m), np.cumsum([0, *sizes[:-1]]).tolist()


def thresholds_for(person: person_store.PersonRow) -> Thresholds:
    """The level's defaults, with the person's own overrides (a `thresholds` rule)."""
    base = DEFAULT_THRESHOLDS[person.supervision_level]
    if not person.rules.thresholds:
        return base
    overrides: dict[str, Any] = {
        k: int(v) if k.endswith("_pings") else v for k, v in person.rules.thresholds.items()
    }
    return replace(base, **overrides)


def position_event(person: person_store.PersonRow, batch: Batch, status: str) -> NewEvent:
    """Where the person's newest fix of the batch puts them."""
    latest = batch.latest
    payload = {
        "person_id": person.id,
        **batch.position(latest),
        "accuracy_m": batch.readings.accuracy_m[latest],
        "ts": ms_to_dt(batch.readings.times[latest]).isoformat(),
        "status": status,
        "supervision_level": person.supervision_level,
    }
    return NewEvent(
        EventType.POSITION, person.id, person.jurisdiction_id, person.jurisdiction_path, payload
    )
