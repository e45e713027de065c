"""Time-driven checks: silent devices (signal_lost, suspected 脱管), SLA escalation, leave
permits that ended with the person still away (overdue_return, 逾期未归) and check-in windows
that closed without a check-in (missed_checkin, 未签到; alerts.checkins); and notices of
monitoring orders about to lapse (alerts.orders).

The decisions are pure functions of (state, now); `run_timers` applies them on a schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import redis.asyncio as aioredis

from alerts import checkins, levels, orders, timer_store
from alerts.outbox import publish
from alerts.silence import SILENCE

log = logging.getLogger(__name__)

# minutes an unacknowledged alert waits at each rung before it moves up
ESCALATION_SLA_MIN = {"strict": 5.0, "normal": 15.0, "lenient": 30.0}


@dataclass(frozen=True)
class TimerConfig:
    interval_s: float = 10.0
    order_notice: timedelta = timedelta(days=7)  # before an order ends, its supervisors hear
    escalation_top: levels.Level = levels.DEFAULT_TOP  # the last rung an alert climbs to


# silence (alerts.silence) is one rule for the timers and the lists
is_signal_lost = SILENCE.is_lost  # the decision the timers apply (timer_store.SILENT prefilters)


def next_rung(
    *,
    supervision_level: str,
    level: str,
    chain: Sequence[str],
    top: str = levels.DEFAULT_TOP,
    since: datetime,
    now: datetime,
) -> str | None:
    """The rung an unacknowledged alert moves to now, or None if it stays: once its SLA has
    passed, the next office up its jurisdiction's `chain` of levels, never above `top`."""
    sla = timedelta(minutes=ESCALATION_SLA_MIN.get(supervision_level, 15.0))
    if now - since < sla:
        return None
    return levels.next_rung(at=level, chain=chain, top=top)


async def run_timers(pool: asyncpg.Pool, redis: aioredis.Redis, config: TimerConfig) -> None:
    while True:
        await asyncio.sleep(config.interval_s)
        event_ids = await check_once(
            pool, order_notice=config.order_notice, escalation_top=config.escalation_top
        )
        await publish(redis, pool, event_ids)


async def check_once(
    pool: asyncpg.Pool,
    *,
    order_notice: timedelta = TimerConfig.order_notice,
    escalation_top: levels.Level = levels.DEFAULT_TOP,
    now: datetime | None = None,
) -> list[int]:
    """One round of every check; `now` is the database's clock unless a test gives one."""
    async with pool.acquire() as conn:
        if now is None:
            now = await conn.fetchval("SELECT now()")
        assert now is not None
        lost = await timer_store.open_signal_lost(conn, now=now, rule=SILENCE)
        escalated = await timer_store.escalate(conn, now=now, top=escalation_top, decide=next_rung)
        overdue = await timer_store.open_overdue_returns(conn, now=now)
        missed = await checkins.judge_due(conn, now=now)
        noted = await checkins.note_late(conn, now=now)
        lapsing = await orders.notice_lapsing(conn, now=now, notice=order_notice)
    if lost or escalated or overdue or missed or noted or lapsing:
        log.info(
            "timers: %d signal_lost, %d escalations, %d overdue returns, %d missed check-ins, "
            "%d late check-ins, %d orders lapsing",
            len(lost),
            len(escalated),
            len(overdue),
            len(missed),
            len(noted),
            len(lapsing),
        )
    return lost + escalated + overdue + missed + noted + lapsing
