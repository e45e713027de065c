"""When certain fixes flip a person's status: the thresholds, the far-outside radius, the run.

Both the live fixes (`geofence.state`) and the late ones (`geofence.late`) are judged by this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geofence.area_models import Fix, Status
from geofence.models import INSIDE, OUTSIDE, FloatArray

EVIDENCE_KEPT = 10
FAR_FLOOR_M = 500.0  # outliers beyond the stated accuracy (multipath, Wi-Fi/cell) stay under this
FAR_ACCURACY_FACTOR = 5.0  # a 5-sigma miss: P(error > 5x a 1-sigma radius) is about 4e-6


def far_radius_m(accuracy_m: npt.ArrayLike) -> FloatArray:
    """Distance outside the area beyond which a fix is decisive: max(500 m, 5 x accuracy)."""
    accuracy = np.asarray(accuracy_m, dtype=np.float64)
    radius: FloatArray = np.maximum(FAR_FLOOR_M, FAR_ACCURACY_FACTOR * accuracy)
    return radius


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


# the certain code that contradicts each status (uncertain fixes contradict none)
AGAINST = {Status.INSIDE: int(OUTSIDE), Status.OUTSIDE: int(INSIDE)}


def contradicts(status: Status, code: int) -> bool:
    return code == AGAINST[status]


def flips(status: Status, run: Run, ts_ms: int, th: Thresholds) -> bool:
    """Distance-aware dwell: far fixes are decisive, fixes near the edge need the full dwell."""
    if status is Status.OUTSIDE:
        return run.count >= th.return_pings
    dwelled = run.count >= th.exit_pings and ts_ms - run.start_ms >= th.exit_min_s * 1000
    return dwelled or run.far >= th.exit_pings
