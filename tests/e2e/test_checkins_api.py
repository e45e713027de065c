"""A check-in rule (签到) set over HTTP: the live service's timers open missed_checkin for the
officer, and a late check-in posted by the phone is noted on the alert."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import websockets

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_rules_api import auth
from tests.e2e.test_slice import CENTRE, enrol, receive_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_a_missed_checkin_reaches_the_officer_and_a_late_one_is_noted(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CHECKIN-{time.monotonic_ns()}")
        rules_url = f"/v1/persons/{device.person_id}/rules"
        bad = await client.post(
            rules_url,
            headers=auth(officer),
            json={"kind": "checkin", "params": {"at": "09:00", "window_min": 0}},
        )
        assert bad.status_code == 422 and "params.window_min" in bad.text, bad.text
        opens = (datetime.now(SHANGHAI) - timedelta(minutes=30)).replace(second=0, microsecond=0)
        made = await client.post(
            rules_url,
            headers=auth(officer),
            json={
                "kind": "checkin",
                "params": {"at": opens.strftime("%H:%M"), "window_min": 20, "grace_min": 5},
            },
        )
        assert made.status_code == 201, made.text
        rule = made.json()
        # today's window opened before the rule was made: tomorrow's is the first judged
        assert datetime.fromisoformat(rule["due_at"]) == opens + timedelta(days=1, minutes=25)
        async with websockets.connect(f"{live.ws_url}/v1/stream?token={officer.token}") as ws:
            async with pool.acquire() as conn:  # a day passes: the window closed unkept
                await conn.execute(
                    "UPDATE person_rules SET due_at = now() - interval '1 second' WHERE id = $1",
                    rule["id"],
                )
            opened = await receive_until(ws, {"alert.opened"}, device.person_id)
            alert = [m for m in opened if m["type"] == "alert.opened"][-1]["alert"]
            assert (alert["type"], alert["rule_key"]) == ("missed_checkin", f"checkin:{rule['id']}")
            assert alert["details"]["checked_in_at"] is None
            now = datetime.now(UTC)
            posted = await client.post(
                "/v1/pings",
                headers={"Authorization": f"Bearer {device.token}"},
                json={
                    "device_id": device.device_id,
                    "ts": now.isoformat(),
                    "lat": CENTRE[0],
                    "lon": CENTRE[1],
                    "accuracy_m": 10,
                    "checkin": True,
                },
            )
            assert posted.status_code == 202, posted.text
            updates = await receive_until(ws, {"alert.updated"}, device.person_id)
        [after] = (await client.get(rules_url, headers=auth(officer))).json()
    noted = [m for m in updates if m["type"] == "alert.updated"][-1]["alert"]
    assert noted["id"] == alert["id"]
    assert datetime.fromisoformat(noted["details"]["checked_in_at"]) == now
    assert datetime.fromisoformat(after["due_at"]) > datetime.now(UTC), "the next window is next"
