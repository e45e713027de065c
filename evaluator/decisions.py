"""The judges' vocabulary: what one person's batch decided, for the one writer to apply.

A judge is pure, `judge(person, batch, state) -> (state, decisions)`: it reads the batch and
the person's saved state and answers the new state and its decisions, touching neither the
database nor its arguments. A rule is *violated* or *cleared*; an alert opened elsewhere is
*noted*; a return closes the leaves that had begun. Areas are *entered* and *exited*: those
words stay in the details of the alerts (`exited_at`, `entered_at`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alerts.models import AlertType, EventType
from alerts.person_store import PersonRow
from evaluator.fence_cache import FenceCache, Points
from geofence.models import BoolArray, CodeArray
from geofence.state import AreaState, Fix, FixColumns, Thresholds
from pings.batch import TAMPER, IntArray, PingBatch, nan_to_none

State = dict[str, Any]  # a person's saved state (person_state.state): a key per rule


@dataclass(frozen=True)
class Rule:
    """What one state machine alerts as: type, the rule key of its one open alert, episode."""

    type: AlertType
    key: str
    episode_id: str


@dataclass(frozen=True)
class Violated:
    """The rule is broken: open its alert or add to the open one, unless a suspension covers
    the time. `late`: proven by late fixes, a past episode rather than the current one."""

    rule: Rule
    at_ms: int
    details: dict[str, Any]
    evidence_ping_ids: tuple[int, ...]
    late: bool = False


@dataclass(frozen=True)
class Cleared:
    """The rule is kept again: its open alert records when under `detail`; `always` is sent
    even with no alert open (person.returned after a permitted excursion)."""

    rule: Rule
    at_ms: int
    detail: str
    always: EventType | None = None


@dataclass(frozen=True)
class Noted:
    """News on an alert opened elsewhere (signal_lost by the timers, overdue_return)."""

    alert_id: int
    at_ms: int
    details: dict[str, Any]


@dataclass(frozen=True)
class LeavesEnded:
    """Back inside: every leave that had begun is closed (销假), and its overdue alert told."""

    at_ms: int


Decision = Violated | Cleared | Noted | LeavesEnded


@dataclass(frozen=True, slots=True)
class Readings:
    """The columns a judge reads one ping at a time, as Python values: made once per
    transaction from its PingBatch (`of`) and cut by person (`cut`), since numpy's cost per
    call, paid per person, is more than a person's one or few pings cost to read this way."""

    ids: list[int]
    device_ids: list[str]
    times: list[int]  # fix times in the state machines' milliseconds (pings.clock.us_to_ms)
    lat: list[float]
    lon: list[float]
    accuracy_m: list[float]
    tampered: list[bool]
    battery: list[float | None]  # None where unknown

    @classmethod
    def of(cls, pings: PingBatch, ts_ms: IntArray) -> Readings:
        return cls(
            pings.ids.tolist(),
            pings.device_ids,
            ts_ms.tolist(),
            pings.lat.tolist(),
            pings.lon.tolist(),
            pings.accuracy_m.tolist(),
            ((pings.flags & TAMPER) != 0).tolist(),
            nan_to_none(pings.battery_pct),
        )

    def cut(self, span: slice) -> Readings:
        return Readings(
            self.ids[span],
            self.device_ids[span],
            self.times[span],
            self.lat[span],
            self.lon[span],
            self.accuracy_m[span],
            self.tampered[span],
            self.battery[span],
        )


@dataclass(frozen=True)
class Batch:
    """One person's pings of a transaction, with what every judge reads of them: their span
    of the transaction's PingBatch, as arrays where a judge computes on a column and as
    `readings` where it reads ping by ping. A ping is its place in them (`latest`,
    `in_fix_order`)."""

    ordered: PingBatch  # the transaction's batch, ordered by person
    span: slice  # this person's pings in it, in batch order
    ts_ms: IntArray  # their fix times as the state machines count (pings.clock.us_to_ms)
    readings: Readings  # their columns as Python values
    points: Points  # their positions and accuracies
    codes: CodeArray  # against the allowed area
    far: BoolArray  # certainly far outside it: decisive, skips the dwell
    latest: int  # the place of the newest fix (the first of equal times)
    thresholds: Thresholds
    judged_through: AreaState  # the allowed area's state before these pings
    fences: FenceCache  # classifies against other fences (zones, curfew homes); no I/O

    def __len__(self) -> int:
        return len(self.readings.times)

    def fixes(self, codes: CodeArray, far: BoolArray | None = None) -> list[Fix] | FixColumns:
        """Every ping as a state machine's fix, with its code against that machine's area."""
        if len(self) >= COLUMNS_FROM:
            return FixColumns(self.ordered.ids[self.span], self.ts_ms, codes, far)
        # FixColumns.fixes from the readings' lists, not from the arrays (fixes_of): two numpy
        # calls less, about 2 µs a person of a single-ping transaction (docs/decisions/0032)
        ids, times, code_list = self.readings.ids, self.readings.times, codes.tolist()
        if far is None:
            return [Fix(i, t, c) for i, t, c in zip(ids, times, code_list, strict=True)]
        far_list: list[bool] = far.tolist()
        return [Fix(i, t, c, f) for i, t, c, f in zip(ids, times, code_list, far_list, strict=True)]

    def position(self, place: int) -> dict[str, float]:
        """Where the ping at `place` was."""
        return {"lat": self.readings.lat[place], "lon": self.readings.lon[place]}

    def in_fix_order(self, places: Iterable[int]) -> list[int]:
        """These places ordered by fix time, then ping id (arrival order within a time)."""
        times, ids = self.readings.times, self.readings.ids
        return sorted(places, key=lambda place: (times[place], ids[place]))

    def places_by_device(self) -> dict[str, list[int]]:
        """Each device's places, devices in id order."""
        devices = self.readings.device_ids
        first = devices[0]
        if devices.count(first) == len(devices):  # one device (almost every person)
            return {first: list(range(len(devices)))}
        places: dict[str, list[int]] = {}
        for place, device in enumerate(devices):
            places.setdefault(device, []).append(place)
        return dict(sorted(places.items()))


Judge = Callable[[PersonRow, Batch, State], tuple[State, list[Decision]]]


def with_key(state: State, key: str, value: dict[str, Any]) -> State:
    """The state with a rule's machines under `key`, or without the key when none has
    anything to remember; `state` itself is left as it was (and answered when unchanged)."""
    if value:
        return state if state.get(key) is value else {**state, key: value}
    if key not in state:
        return state
    return {k: v for k, v in state.items() if k != key}


# from this many fixes, columns: `advance` judges a compliant batch of them without stepping
# each. Fewer, a Fix each: numpy's cost per call is more than what it saves.
# See docs/decisions/0025-judging-batches-as-columns.md
COLUMNS_FROM = 16


def fixes_of(
    ids: IntArray, ts_ms: IntArray, codes: CodeArray, far: BoolArray | None = None
) -> list[Fix] | FixColumns:
    """The pings as a state machine's input: columns from COLUMNS_FROM of them, else a Fix each."""
    columns = FixColumns(ids, ts_ms, codes, far)
    return columns if len(ids) >= COLUMNS_FROM else columns.fixes()
