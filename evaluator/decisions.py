"""The judges' vocabulary: what one person's batch decided, for the one writer to apply.

A judge is pure, `judge(person, batch, state) -> (state, decisions)`: it reads the batch and
the person's saved state and answers the new state and its decisions, touching neither the
database nor its arguments. A rule is *violated* or *cleared*; an alert opened elsewhere is
*noted*; a return closes the leaves that had begun. Areas are *entered* and *exited*: those
words stay in the details of the alerts (`exited_at`, `entered_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alerts.models import AlertType, EventType
from alerts.person_store import PersonRow
from evaluator.fence_cache import FenceCache, Points
from geofence.models import BoolArray, CodeArray
from geofence.state import AreaState, Fix, FixColumns, Thresholds
from pings.batch import StreamPing

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


@dataclass(frozen=True)
class Batch:
    """One person's pings of a transaction, with what every judge reads of them."""

    pings: list[StreamPing]
    points: Points
    codes: CodeArray  # against the allowed area
    far: BoolArray  # certainly far outside it: decisive, skips the dwell
    latest: StreamPing
    thresholds: Thresholds
    judged_through: AreaState  # the allowed area's state before these pings
    fences: FenceCache  # classifies against other fences (zones, curfew homes); no I/O


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
    pings: list[StreamPing], codes: CodeArray, far: BoolArray | None = None
) -> list[Fix] | FixColumns:
    count = len(pings)
    if count >= COLUMNS_FROM:
        ids = np.fromiter((p["id"] for p in pings), np.int64, count)
        times = np.fromiter((p["ts_ms"] for p in pings), np.int64, count)
        return FixColumns(ids, times, codes, far)
    # tolist() makes Python ints and bools in one go, far cheaper than int() per numpy scalar
    code_list: list[int] = codes.tolist()
    if far is None:
        return [Fix(p["id"], p["ts_ms"], c) for p, c in zip(pings, code_list, strict=True)]
    far_list: list[bool] = far.tolist()
    return [
        Fix(p["id"], p["ts_ms"], c, f) for p, c, f in zip(pings, code_list, far_list, strict=True)
    ]


def fix_order(ping: StreamPing) -> tuple[int, int]:
    return ping["ts_ms"], ping["id"]
