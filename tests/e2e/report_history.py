"""A known week of history for the report tests (the 2026 National Day holiday, Shanghai
time): alerts with their opening, acknowledgement and resolution, check-in rules and the
alerts that missed windows, orders, a permit, persons created on known days, and two moves
between offices in October.

Everything but the persons is written straight into the tables as the evaluator, the timers
and the registry leave them, so each figure the reports give can be worked out by hand (the
expected values live beside the tests). Check-in rules are given a due_at far ahead, so the
live server's timers never judge their windows and change the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pings.pg import Conn
from tests.e2e.conftest import Officer
from tests.e2e.test_alert_triage_api import person
from tests.e2e.test_registry import account, district

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEVER = datetime(2099, 1, 1, tzinfo=SHANGHAI)


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


INSERT_TRANSFER = """
INSERT INTO person_history (person_id, at, officer_id, action, changes, reason)
VALUES ($1, $2, $3, 'update', jsonb_build_object('jurisdiction_id',
        jsonb_build_object('old', $4::bigint, 'new', $5::bigint)), '执行地变更')
"""
INSERT_ALERT = """
INSERT INTO alerts (person_id, jurisdiction_id, type, rule_key, status, opened_at,
                    last_evidence_at, created_at, acknowledged_at, acknowledged_by,
                    resolved_at, resolved_by, disposition, details)
SELECT $1, jurisdiction_id, $2, $3, $4, $5::timestamptz, $6, $5::timestamptz,
       $7::timestamptz, CASE WHEN $7::timestamptz IS NULL THEN NULL ELSE $10::bigint END,
       $8::timestamptz,
       CASE WHEN $8::timestamptz IS NULL OR $9::text = 'auto_cleared' THEN NULL
            ELSE $10::bigint END,
       $9::text, $11::jsonb
FROM persons WHERE id = $1 RETURNING id
"""


@dataclass
class History:
    north: int
    south: int
    zhang: int  # north
    li: int  # north, checks in daily at 09:00
    wang: int  # south
    zhao: int  # north, under an order from 5 October, moved to south on the 15th
    sun: int  # south, never under an order, moved to north on the 16th
    north_officer: dict[str, str]
    south_officer: dict[str, str]
    alerts: dict[str, int]
    checkin_rule: int


async def alert(
    conn: Conn,
    officer_id: int,
    person_id: int,
    type: str,
    opened: datetime,
    *,
    ack_s: int | None = None,
    resolve_s: int | None = None,
    disposition: str | None = None,
    rule_key: str = "",
    last_evidence: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """An alert that reached the system at `opened`, acknowledged and resolved that many
    seconds later."""
    acked = opened + timedelta(seconds=ack_s) if ack_s is not None else None
    resolved = opened + timedelta(seconds=resolve_s) if resolve_s is not None else None
    status = "resolved" if resolved else "acknowledged" if acked else "open"
    alert_id: int = await conn.fetchval(
        INSERT_ALERT, person_id, type, rule_key or f"{type}:{opened.isoformat()}", status,
        opened, last_evidence or opened, acked, resolved, disposition, officer_id, details or {},
    )  # fmt: skip
    return alert_id


async def order(
    conn: Conn, person_id: int, kind: str, starts: datetime, ends: datetime, **revoked: Any
) -> None:
    await conn.execute(
        "INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at, approved_by, "
        "revoked_at) VALUES ($1, $2, $3, $4, 'bureau head', $5)",
        person_id, kind, starts, ends, revoked.get("at"),
    )  # fmt: skip


async def rule(
    conn: Conn, person_id: int, kind: str, params: dict[str, Any], made: datetime
) -> int:
    due = NEVER if kind == "checkin" else None
    rule_id: int = await conn.fetchval(
        "INSERT INTO person_rules (person_id, kind, params, created_at, due_at) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        person_id, kind, params, made, due,
    )  # fmt: skip
    return rule_id


async def seed(client: httpx.AsyncClient, conn: Conn, admin: Officer) -> History:
    north, south = await district(client, admin, "north"), await district(client, admin, "south")
    zhang = await person(client, admin, north, "Zhang San")
    li = await person(client, admin, north, "=Li Si")  # a name a spreadsheet would run
    wang = await person(client, admin, south, "Wang Wu")
    zhao = await person(client, admin, north, "Zhao Liu")
    sun = await person(client, admin, south, "Sun Qi")
    h = History(
        north, south, zhang, li, wang, zhao, sun,
        await account(client, admin, north, "officer"),
        await account(client, admin, south, "officer"),
        {}, 0,
    )  # fmt: skip
    me = await conn.fetchval("SELECT id FROM officers WHERE username = $1", admin.username)
    created = ((zhang, local(9, 15)), (li, local(8, 31)), (wang, local(10, 20)),
               (zhao, local(10, 3)), (sun, local(10, 2)))  # fmt: skip
    for person_id, created_at in created:
        await conn.execute(
            "UPDATE persons SET created_at = $2 WHERE id = $1", person_id, created_at
        )
    await seed_alerts(conn, me, h)
    await seed_checkins(conn, me, h)
    await seed_orders(conn, h)
    await seed_transfers(conn, me, h)
    return h


async def seed_alerts(conn: Conn, me: int, h: History) -> None:
    a = h.alerts
    back = {"returned_at": local(10, 1, 11).isoformat()}
    a["a1"] = await alert(conn, me, h.zhang, "out_of_area", local(10, 1, 9), ack_s=60,
                          resolve_s=600, disposition="verbal_reminder", details=back)  # fmt: skip
    # 07:30 in Shanghai is 23:30 the day before in UTC
    a["a2"] = await alert(conn, me, h.zhang, "out_of_area", local(10, 2, 7, 30), ack_s=120,
                          resolve_s=1200, disposition="warning")  # fmt: skip
    a["a3"] = await alert(conn, me, h.zhang, "low_battery", local(10, 2, 10), ack_s=300)
    back = {"returned_at": local(10, 3, 8, 45).isoformat()}
    a["a4"] = await alert(conn, me, h.zhang, "out_of_area", local(10, 3, 8), ack_s=180,
                          resolve_s=1800, disposition="admonition", details=back)  # fmt: skip
    # left before the holiday, back on its first night; resolved within it
    back = {"returned_at": local(10, 1, 2).isoformat()}
    a["a5"] = await alert(conn, me, h.zhang, "out_of_area", local(9, 30, 20), ack_s=3600,
                          resolve_s=8 * 3600, disposition="false_alarm", details=back)  # fmt: skip
    a["a6"] = await alert(conn, me, h.zhang, "out_of_area", local(10, 9, 12))  # after it
    back = {"returned_at": local(10, 1, 12, 30).isoformat()}
    a["b1"] = await alert(conn, me, h.wang, "out_of_area", local(10, 1, 12), ack_s=30,
                          resolve_s=90, disposition="false_alarm", details=back)  # fmt: skip
    a["b2"] = await alert(conn, me, h.wang, "overdue_return", local(10, 4, 10))
    await conn.execute(
        "INSERT INTO leave_permits (person_id, starts_at, ends_at, grace_s, overdue_alert_id, "
        "returned_at, closed_at) VALUES ($1, $2, $3, 3600, $4, $5, $5)",
        h.wang, local(10, 2), local(10, 4, 9), a["b2"], local(10, 4, 13),
    )  # fmt: skip


async def seed_checkins(conn: Conn, me: int, h: History) -> None:
    """Li checks in daily 09:00-10:00 (judged 10:10) all week, under an order; a suspension
    excuses 4 October; the 2nd and 3rd were missed (one alert, updated), the 6th missed (an
    alert the system cleared). Zhang checks in 20:00-20:30 from the 5th, his order ending at
    noon on the 6th: one window asked."""
    h.checkin_rule = await rule(
        conn, h.li, "checkin", {"at": "09:00", "window_min": 60, "grace_min": 10}, local(9, 30, 12)
    )
    suspension = {"starts_at": local(10, 4).isoformat(), "ends_at": local(10, 5).isoformat(),
                  "types": ["missed_checkin"]}  # fmt: skip
    await rule(conn, h.li, "suspension", suspension, local(9, 30, 12))
    key = f"checkin:{h.checkin_rule}"
    missed = [local(10, 2, 9).isoformat(), local(10, 3, 9).isoformat()]
    h.alerts["m1"] = await alert(conn, me, h.li, "missed_checkin", local(10, 2, 10, 10),
                                 rule_key=key, last_evidence=local(10, 3, 10, 10),
                                 details={"missed": missed})  # fmt: skip
    h.alerts["m2"] = await alert(conn, me, h.li, "missed_checkin", local(10, 6, 10, 10),
                                 resolve_s=600, disposition="auto_cleared", rule_key=key,
                                 details={"missed": [local(10, 6, 9).isoformat()]})  # fmt: skip
    evening = {"at": "20:00", "window_min": 30, "grace_min": 0}
    await rule(conn, h.zhang, "checkin", evening, local(10, 5, 12))


async def seed_orders(conn: Conn, h: History) -> None:
    await order(conn, h.li, "information_check", local(9, 1), datetime(2027, 1, 1, tzinfo=SHANGHAI))
    await order(conn, h.zhang, "electronic_positioning", local(9, 20), local(10, 6, 12))
    await order(conn, h.zhang, "information_check", local(10, 10), local(12, 31))
    await order(conn, h.wang, "electronic_positioning", local(10, 20), local(11, 15),
                at=local(10, 25))  # fmt: skip


async def transfer(conn: Conn, me: int, person_id: int, to: int, at: datetime) -> None:
    """A move between offices as the registry leaves it: the person's office, and history."""
    old = await conn.fetchval("SELECT jurisdiction_id FROM persons WHERE id = $1", person_id)
    await conn.execute("UPDATE persons SET jurisdiction_id = $2 WHERE id = $1", person_id, to)
    await conn.execute(INSERT_TRANSFER, person_id, at, me, old, to)


async def seed_transfers(conn: Conn, me: int, h: History) -> None:
    await order(conn, h.zhao, "electronic_positioning", local(10, 5), local(12, 31))
    await transfer(conn, me, h.zhao, h.south, local(10, 15, 10))
    await transfer(conn, me, h.sun, h.north, local(10, 16, 10))  # under no order: not counted
