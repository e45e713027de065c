"""Pure decisions of the time-driven checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.timers import is_signal_lost, next_rung

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_signal_lost_needs_missed_reports_and_the_floor() -> None:
    def lost(level: str, interval_s: int, silent_s: float) -> bool:
        return is_signal_lost(
            supervision_level=level,
            expected_interval_s=interval_s,
            silent_since=NOW - timedelta(seconds=silent_s),
            now=NOW,
        )

    assert not lost("strict", 60, 299)  # 5 missed reports but under the 5-minute floor
    assert lost("strict", 60, 301)
    assert not lost("lenient", 60, 1199)
    assert not lost("normal", 300, 1499)  # five missed 5-minute reports take 25 minutes
    assert lost("normal", 300, 1501)


CHAIN = ("street", "district", "city", "province", "ministry")


def test_escalation_ladder() -> None:
    def rung(level: str, at: str, minutes: float, top: str = "city") -> str | None:
        return next_rung(
            supervision_level=level,
            level=at,
            chain=CHAIN,
            top=top,
            since=NOW - timedelta(minutes=minutes),
            now=NOW,
        )

    assert rung("strict", "street", 4.9) is None
    assert rung("strict", "street", 5.1) == "district"
    assert rung("normal", "district", 15.1) == "city"
    assert rung("lenient", "street", 29) is None
    assert rung("strict", "city", 600) is None  # the top rung stays
    assert rung("strict", "city", 600, top="province") == "province"
    assert rung("strict", "province", 600, top="province") is None
