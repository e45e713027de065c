"""The allowed-area state machine's data: fixes, the saved per-person state, and its events.

`geofence.state.advance` turns a person's `AreaState` and new `Fix`es into a new state and
`AreaEvent`s; `Excursion`s are the past stretches outside it remembers to judge late fixes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from geofence.models import BoolArray, CodeArray, IntArray


class Status(StrEnum):
    INSIDE = "inside"
    OUTSIDE = "outside"


# not frozen: a frozen dataclass sets each field through object.__setattr__, and making the
# Fixes was an eighth of a worker's CPU on batched pings. Nothing changes a Fix once made.
# See docs/decisions/0025-judging-batches-as-columns.md
@dataclass(slots=True)
class Fix:
    ping_id: int
    ts_ms: int
    code: int  # INSIDE / OUTSIDE / UNCERTAIN for the allowed area
    far: bool = False  # certainly outside by more than far_radius_m(accuracy)


@dataclass(frozen=True, slots=True)
class FixColumns:
    """Fixes a column at a time, as the evaluator has them: `advance` judges a batch that
    changes nothing but the last fix without making a Fix of each."""

    ping_ids: IntArray
    ts_ms: IntArray
    codes: CodeArray
    far: BoolArray | None = None

    def fixes(self) -> list[Fix]:
        # tolist() makes Python ints and bools in one go, far cheaper than int() per scalar
        ids, times, codes = self.ping_ids.tolist(), self.ts_ms.tolist(), self.codes.tolist()
        if self.far is None:
            return [Fix(i, t, c) for i, t, c in zip(ids, times, codes, strict=True)]
        far = self.far.tolist()
        return [Fix(i, t, c, f) for i, t, c, f in zip(ids, times, codes, far, strict=True)]


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


# not frozen, as Fix: the evaluator makes two a person per transaction (from_json, and the
# state after the fixes), and a frozen one sets its 13 fields through object.__setattr__
# (docs/decisions/0025-judging-batches-as-columns.md). Nothing changes an AreaState once
# made; a new one is made instead.
@dataclass(slots=True)
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
        """The fields away from their defaults, and the status always (SQL reads it): a person
        at rest saves a third of the keys, and PostgreSQL parses and sends a person's state on
        every evaluation. from_json fills in the rest."""
        data: dict[str, Any] = {"status": self.status}
        for name, default in _AREA_DEFAULTS:
            value = getattr(self, name)
            if value != default:
                data[name] = value
        if self.excursions:
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


# (field, default) of every AreaState field to_json may leave out
_AREA_DEFAULTS = tuple(
    (name, getattr(AreaState(), name))
    for name in AreaState.__dataclass_fields__
    if name not in ("status", "excursions")
)


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
