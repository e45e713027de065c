"""Rules and leave permits over HTTP, and a curfew alert reaching the officer live."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import websockets

from simulators.fleet import Fleet, offset
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol, receive_until, square


def auth(officer: Officer) -> dict[str, str]:
    return {"Authorization": f"Bearer {officer.token}"}


async def home_fence(client: httpx.AsyncClient, officer: Officer) -> int:
    reply = await client.post(
        "/v1/fences",
        headers=auth(officer),
        json={"name": "home", "role": "allowed", "geometry": square(*offset(*CENTRE, -500, 0), 60)},
    )
    assert reply.status_code == 201, reply.text
    fence_id: int = reply.json()["id"]
    return fence_id


async def test_curfew_set_over_http_alerts_the_officer_live(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CURFEW-{time.monotonic_ns()}")
        home = await home_fence(client, officer)
        local_now = datetime.now(ZoneInfo("Asia/Shanghai"))
        window = {
            "fence_id": home,
            "start": (local_now - timedelta(hours=1)).strftime("%H:%M"),
            "end": (local_now + timedelta(hours=1)).strftime("%H:%M"),
        }
        rule = await client.post(
            f"/v1/persons/{device.person_id}/rules",
            headers=auth(officer),
            json={"kind": "curfew", "params": window},
        )
        assert rule.status_code == 201, rule.text
        fleet = Fleet(live.base_url, [device], interval_s=0)
        # the last whole route cycle: its first 200 s are at CENTRE, inside the allowed area
        start = (time.time() // 600) * 600 - 600
        async with websockets.connect(f"{live.ws_url}/v1/stream?token={officer.token}") as ws:
            for t in range(0, 160, 10):
                await fleet.tick(client, start + t)
            opened = await receive_until(ws, {"alert.opened"}, device.person_id)
    alert = opened[-1]["alert"]
    assert alert["type"] == "curfew", "away from home in the window, inside the allowed area"
    assert alert["rule_key"] == f"curfew:{rule.json()['id']}"
    assert alert["details"]["fence_id"] == home


async def test_rules_are_checked_listed_and_switched_off_with_an_audit_trail(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"RULES-{time.monotonic_ns()}")
        rules_url = f"/v1/persons/{device.person_id}/rules"
        bad = await client.post(
            rules_url,
            headers=auth(officer),
            json={"kind": "curfew", "params": {"fence_id": 1, "start": "25:00", "end": "06:00"}},
        )
        assert bad.status_code == 422 and "params.start" in bad.text, bad.text
        unknown_fence = await client.post(
            rules_url,
            headers=auth(officer),
            json={"kind": "curfew", "params": {"fence_id": 10**9, "start": "22:00", "end": "06"}},
        )
        assert unknown_fence.status_code == 422 and "params.fence_id" in unknown_fence.text
        made = await client.post(
            rules_url,
            headers=auth(officer),
            json={"kind": "thresholds", "params": {"exit_pings": 4}},
        )
        assert made.status_code == 201, made.text
        rule_id = made.json()["id"]
        listed = (await client.get(rules_url, headers=auth(officer))).json()
        assert [(r["id"], r["active"]) for r in listed] == [(rule_id, True)]
        off = await client.delete(f"{rules_url}/{rule_id}", headers=auth(officer))
        assert off.status_code == 200 and off.json()["active"] is False
        missing = await client.delete(f"{rules_url}/{rule_id + 10**6}", headers=auth(officer))
        assert missing.status_code == 404
    async with pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE subject = $1 AND action LIKE 'rule.%' ORDER BY id",
            f"person:{device.person_id}",
        )
    assert [a["action"] for a in actions] == ["rule.create", "rule.deactivate"]


async def test_leave_permits_are_checked_listed_and_cancelled(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"PERMIT-{time.monotonic_ns()}")
        url = f"/v1/persons/{device.person_id}/permits"
        now = datetime.now(UTC)
        naive = await client.post(
            url,
            headers=auth(officer),
            json={"starts_at": "2026-12-01T08:00:00", "ends_at": "2026-12-01T20:00:00"},
        )
        assert naive.status_code == 422 and "starts_at" in naive.text
        backwards = await client.post(
            url,
            headers=auth(officer),
            json={"starts_at": now.isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat()},
        )
        assert backwards.status_code == 422 and "ends_at" in backwards.text
        made = await client.post(
            url,
            headers=auth(officer),
            json={
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=8)).isoformat(),
                "destination": "Guangzhou, hospital visit",
                "grace_s": 1800,
            },
        )
        assert made.status_code == 201, made.text
        permit = made.json()
        assert permit["closed_at"] is None and permit["cancelled_at"] is None
        cancel_url = f"{url}/{permit['id']}/cancel"
        cancelled = await client.post(cancel_url, headers=auth(officer))
        assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"] is not None
        again = await client.post(cancel_url, headers=auth(officer))
        assert again.status_code == 409
        listed = (await client.get(url, headers=auth(officer))).json()
        assert [p["id"] for p in listed] == [permit["id"]]


async def test_a_person_in_an_unknown_time_zone_is_refused(live: Live, officer: Officer) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        reply = await client.post(
            "/v1/persons",
            headers=auth(officer),
            json={
                "case_number": f"TZ-{time.monotonic_ns()}",
                "supervision_level": "normal",
                "allowed_fence_ids": [await home_fence(client, officer)],
                "timezone": "Asia/Beijing",  # not an IANA zone: Asia/Shanghai is
            },
        )
    assert reply.status_code == 422 and "timezone" in reply.text, reply.text
