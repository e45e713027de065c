"""When a device counts as silent (脱管 suspected): the one rule by which the signal_lost timer
opens alerts and the persons and devices lists show a device as silent (docs/decisions/0009).

A device is silent from the latest of its newest judged fix (the evaluator's
`state.devices.<id>.last_ms`), its enrolment and the start of its person's order in force,
for longer than max(its person's level's floor, MISSED_REPORTS x its expected_interval_s).
Revoked devices, and persons without an order in force, are never silent: they are not
tracked. The SQL below is the same text wherever a device's silence is asked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

# a device is lost after this many missed reports (its own expected_interval_s each), and
# never sooner than its person's level's floor
MISSED_REPORTS = 5
SIGNAL_LOST_FLOOR_S = {"strict": 300.0, "normal": 600.0, "lenient": 1200.0}
LEVEL_NAME = re.compile(r"[a-z_]{1,32}")


@dataclass(frozen=True)
class SilenceRule:
    """A device is silent after max(the level's floor, missed_reports x its interval)."""

    floors_s: Mapping[str, float]
    missed_reports: int
    default_floor_s: float = 600.0

    def __post_init__(self) -> None:
        # the floors are written into SQL as literals: names and numbers only
        for level, floor_s in self.floors_s.items():
            if not LEVEL_NAME.fullmatch(level) or not math.isfinite(floor_s):
                raise ValueError(f"silence floor {level!r}: {floor_s!r} cannot be a literal")
        if not math.isfinite(self.default_floor_s) or self.missed_reports < 1:
            raise ValueError("the default floor must be finite, missed_reports at least 1")

    @property
    def least_floor_s(self) -> float:
        return min(*self.floors_s.values(), self.default_floor_s)

    def after(self, supervision_level: str, expected_interval_s: int) -> timedelta:
        floor = self.floors_s.get(supervision_level, self.default_floor_s)
        return timedelta(seconds=max(floor, self.missed_reports * expected_interval_s))

    def is_lost(
        self, *, supervision_level: str, expected_interval_s: int, silent_since: datetime,
        now: datetime,
    ) -> bool:  # fmt: skip
        return now - silent_since > self.after(supervision_level, expected_interval_s)

    def after_s_sql(self) -> str:
        """`after` in SQL, in seconds, for device `d` of person `p`."""
        whens = " ".join(f"WHEN '{level}' THEN {s!r}" for level, s in self.floors_s.items())
        floor = f"(CASE p.supervision_level {whens} ELSE {self.default_floor_s!r} END)::float8"
        return f"greatest({floor}, {int(self.missed_reports)} * d.expected_interval_s)"

    def is_silent_sql(self, now: str) -> str:
        """True when device `d` of person `p` is silent at `now` (an SQL expression); needs
        `person_state st` and `order_in_force(now)` joined beside `d` and `p`."""
        return f"""(d.revoked_at IS NULL AND o.starts_at IS NOT NULL
    AND {SILENT_SINCE} < {now} - make_interval(secs => {self.after_s_sql()}))"""


SILENCE = SilenceRule(SIGNAL_LOST_FLOOR_S, MISSED_REPORTS)

# the device's newest judged fix, epoch milliseconds as text (null: never judged)
LAST_MS = "(st.state->'devices'->d.id->>'last_ms')"
SILENT_SINCE = f"greatest(to_timestamp({LAST_MS}::float8 / 1000), d.created_at, o.starts_at)"


def order_in_force(now: str) -> str:
    """A join giving `o.starts_at`: the earliest start of the orders (either kind, as ingest
    accepts either) in force at `now` for device `d`'s person, NULL without one."""
    return f"""LEFT JOIN LATERAL (SELECT min(o.starts_at) AS starts_at FROM monitoring_orders o
    WHERE o.person_id = d.person_id AND o.revoked_at IS NULL
      AND o.starts_at <= {now} AND {now} < o.ends_at) o ON true"""


# what the lists join beside a device to ask its silence now
SILENCE_JOINS = f"""LEFT JOIN person_state st ON st.person_id = d.person_id
{order_in_force("now()")}"""
DEVICE_SILENT = SILENCE.is_silent_sql("now()")
SILENCE_AFTER_S = SILENCE.after_s_sql()
