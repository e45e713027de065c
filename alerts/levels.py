"""The levels of the supervision tree, lowest first, and the rung an unacknowledged alert
climbs to next: the nearest office above it on its own jurisdiction's chain of ancestors.

Pure: the ladder is data (the alert's jurisdiction and its ancestors' levels), no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

# 街道/乡镇司法所 → 区/县矫正中心 → 市指挥中心 → 省 → 司法部
Level = Literal["street", "district", "city", "province", "ministry"]
LEVELS: tuple[Level, ...] = get_args(Level)
# the last rung of escalation unless MONITOR_ESCALATION_TOP says otherwise
DEFAULT_TOP: Level = "city"


def rank(level: str) -> int:
    """0 for a street office up to 4 for the ministry; ValueError for an unknown level."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)}") from None


def ranks_below(child: str, parent: str) -> bool:
    """A node sits strictly below its parent; levels between may be skipped (a district
    directly under a province-level city such as Beijing)."""
    return rank(child) < rank(parent)


def next_rung(*, at: str, chain: Iterable[str], top: str) -> str | None:
    """The level an alert at `at` moves up to: the lowest of `chain` (the levels of the alert's
    jurisdiction and all its ancestors) above `at`; None once nothing above it is at or
    below `top` (the last rung, or the root of the tree)."""
    above = [rank(level) for level in chain if rank(level) > rank(at)]
    if not above or min(above) > rank(top):
        return None
    return LEVELS[min(above)]
