"""One person from intake to 解矫 through the API, as an office runs a caseload (issue 20's
"done when"): offices and accounts, a fence, the person, an order, a band and a phone, the
duty roster and the offices' webhook channels; a band that never reports reaches the officer
on duty, unacknowledged it reaches the district, the district acknowledges and follows it up,
the person is discharged; every change is on record, and the day's report counts the alert.

The service is live and every step goes over HTTP; only the clock is moved, by running the
timers' and notifier's rounds at a later `now` (no test waits ten minutes)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from alerts import timers
from monitor.notify import engine, signing
from tests.e2e.conftest import Live, Officer, log_in
from tests.e2e.test_slice import CENTRE, square
from tests.monitor.notify.test_notify import LOOPBACK
from tests.notify_receiver import Received, receiving

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTIFY = engine.NotifyConfig(timeout_s=2.0, allowed_networks=LOOPBACK)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def created(client: httpx.AsyncClient, token: str, path: str, **body: Any) -> Any:
    answer = await client.post(path, headers=bearer(token), json=body)
    assert answer.status_code == 201, f"{path}: {answer.text}"
    return answer.json()


async def account(
    client: httpx.AsyncClient, admin: Officer, role: str, jurisdiction_id: int
) -> tuple[int, str]:
    username, password = f"cl-{role}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = await created(
        client,
        admin.token,
        "/v1/officers",
        username=username,
        password=password,
        role=role,
        jurisdiction_id=jurisdiction_id,
        display_name=f"{role} {username}",
    )
    return made["id"], await log_in(str(client.base_url), username, password)


async def rounds(pool: asyncpg.Pool, now: datetime) -> None:
    """What the workers do on their own at `now`: the timers, then the notifier's rounds."""
    await timers.check_once(pool, now=now)
    await engine.dispatch_once(pool, NOTIFY)
    async with httpx.AsyncClient() as client:
        await engine.send_once(pool, client, NOTIFY, now=now)


def verified(delivery: Received, secret: str) -> dict[str, Any]:
    """The delivery's body, once its signature checks out with the channel's secret."""
    stamp = int(delivery.headers["x-monitor-timestamp"])
    assert delivery.headers["x-monitor-signature"] == signing.sign(secret, stamp, delivery.body)
    body: dict[str, Any] = delivery.json
    return body


async def test_an_office_runs_a_person_from_intake_to_discharge(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    city = officer.token
    async with receiving() as receiver, httpx.AsyncClient(base_url=live.base_url) as client:
        # the offices under the city, and who works there
        district = await created(
            client,
            city,
            "/v1/jurisdictions",
            name="福田区 test",
            level="district",
            parent_id=officer.jurisdiction_id,
        )
        street = await created(
            client,
            city,
            "/v1/jurisdictions",
            name="园岭街道 test",
            level="street",
            parent_id=district["id"],
        )
        street_officer, street_token = await account(client, officer, "officer", street["id"])
        _, district_token = await account(client, officer, "supervisor", district["id"])

        # the roster and the offices' channels (an SMS gateway behind each)
        now = datetime.now(UTC)
        shift = await created(
            client,
            city,
            f"/v1/jurisdictions/{street['id']}/shifts",
            officer_id=street_officer,
            starts_at=(now - timedelta(hours=1)).isoformat(),
            ends_at=(now + timedelta(hours=8)).isoformat(),
            contact="+86 138 0000 0000",
        )
        street_hook = await created(
            client,
            city,
            f"/v1/jurisdictions/{street['id']}/channels",
            name="street duty SMS",
            url=receiver.url("/street"),
        )
        district_hook = await created(
            client,
            city,
            f"/v1/jurisdictions/{district['id']}/channels",
            name="district duty SMS",
            url=receiver.url("/district"),
        )

        # intake: the fence, the person, the order, a band and a phone
        fence = await created(
            client,
            city,
            "/v1/fences",
            name=f"city {secrets.token_hex(3)}",
            role="allowed",
            crs="wgs84",
            geometry=square(*CENTRE, 1000),
        )
        person = await created(
            client,
            street_token,
            "/v1/persons",
            case_number=f"CL-{secrets.token_hex(5)}",
            full_name="张三",
            supervision_level="normal",
            allowed_fence_ids=[fence["id"]],
            jurisdiction_id=street["id"],
        )
        url = f"/v1/persons/{person['id']}"
        await created(
            client,
            street_token,
            f"{url}/orders",
            kind="electronic_positioning",
            starts_at=(now - timedelta(minutes=1)).isoformat(),
            ends_at=(now + timedelta(days=90)).isoformat(),
            basis="left_residence_without_approval",
            approved_by="区司法局",
        )
        band = await created(
            client, street_token, "/v1/devices", person_id=person["id"], kind="ankle"
        )
        phone = await created(
            client, street_token, "/v1/devices", person_id=person["id"], kind="phone"
        )
        fix = {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}
        heard = await client.post("/v1/pings", headers=bearer(phone["token"]), json=fix)
        assert heard.status_code == 202, heard.text

        # the band never reports: past the normal level's 10 minutes the officer on duty hears
        async with pool.acquire() as conn:
            db_now = await conn.fetchval("SELECT now()")
        await rounds(pool, db_now + timedelta(minutes=11))
        [opened] = [
            verified(d, street_hook["secret"])
            for d in receiver.at("/street")
            if d.json["alert"]["details"].get("device_id") == band["device_id"]
        ]
        assert opened["alert"]["type"] == "signal_lost"
        assert opened["alert"]["person_id"] == person["id"]
        assert [(d["officer_id"], d["contact"]) for d in opened["on_duty"]] == [
            (street_officer, "+86 138 0000 0000")
        ]
        assert not [
            d for d in receiver.at("/district") if d.json["alert"]["id"] == opened["alert"]["id"]
        ]
        alert_id = opened["alert"]["id"]

        # nobody acknowledges it: past the normal level's 15 minutes it is the district's
        await rounds(pool, db_now + timedelta(minutes=27))
        escalated = [
            verified(d, district_hook["secret"])
            for d in receiver.at("/district")
            if d.json["alert"]["id"] == alert_id
        ]
        assert [e["alert"]["escalation_level"] for e in escalated] == ["district"]
        assert escalated[0]["nobody_on_duty"], "no one is rostered at the district: it says so"

        # the district acknowledges, gives it to the street officer, and notes the follow-up
        ack = await client.post(
            f"/v1/alerts/{alert_id}/ack",
            headers=bearer(district_token),
            json={"note": "已电话联系本人"},
        )
        assert ack.status_code == 200, ack.text
        given = await client.post(
            f"/v1/alerts/{alert_id}/assign",
            headers=bearer(district_token),
            json={"officer_id": street_officer},
        )
        assert given.status_code == 200 and given.json()["assigned_to"] == street_officer
        await created(
            client,
            street_token,
            f"/v1/alerts/{alert_id}/notes",
            body="上门核查：脚环电量耗尽，已更换",
        )

        # a month on, the level is reviewed; at the end of the term, 解矫
        tag = (await client.get(url, headers=bearer(street_token))).headers["ETag"]
        eased = await client.patch(
            url,
            headers={**bearer(street_token), "If-Match": tag},
            json={"supervision_level": "lenient", "reason": "月度评估"},
        )
        assert eased.status_code == 200, eased.text
        day = datetime.now(SHANGHAI).date()
        today, tomorrow = day.isoformat(), (day + timedelta(days=1)).isoformat()
        ended = await client.post(
            f"{url}/discharge",
            headers=bearer(street_token),
            json={"reason": "期满解矫", "date": today},
        )
        assert ended.status_code == 200, ended.text
        assert sorted(ended.json()["revoked_device_ids"]) == sorted(
            [band["device_id"], phone["device_id"]]
        )

        # on record: the person's history, the alert's actions and notes, the audit log
        history = (await client.get(f"{url}/history", headers=bearer(street_token))).json()
        assert [h["action"] for h in history] == ["update", "discharge"]
        actions = (
            await client.get(f"/v1/alerts/{alert_id}/actions", headers=bearer(street_token))
        ).json()
        done = [a["action"] or a["type"] for a in actions]
        assert done == [
            "alert.opened",
            "alert.escalated",
            "alert.acknowledged",
            "assign",
            "note",
            "alert.resolved",
        ], done
        alert = (await client.get(f"/v1/alerts/{alert_id}", headers=bearer(street_token))).json()
        assert (alert["status"], alert["disposition"]) == ("resolved", "auto_cleared")
        assert alert["notes_count"] == 1
        deliveries = (
            await client.get(f"/v1/alerts/{alert_id}/deliveries", headers=bearer(district_token))
        ).json()
        assert [(d["channel_id"], d["status"]) for d in deliveries] == [
            (street_hook["id"], "delivered"),
            (district_hook["id"], "delivered"),
        ]
        # the day's report counts the alert at the street office
        report = await client.get(
            "/v1/reports/alerts",
            headers=bearer(district_token),
            params={"from": today, "to": tomorrow},
        )
        assert report.status_code == 200, report.text
        counted = [
            r
            for r in report.json()["rows"]
            if r["type"] == "signal_lost" and r["jurisdiction_id"] == street["id"]
        ]
        assert sum(r["alerts"] for r in counted) == 2, counted  # the band's and the phone's
    async with pool.acquire() as conn:
        audited = {
            r["action"]
            for r in await conn.fetch(
                "SELECT action FROM audit_log WHERE subject = ANY($1::text[])",
                [
                    f"person:{person['id']}",
                    f"alert:{alert_id}",
                    f"shift:{shift['id']}",
                    f"channel:{street_hook['id']}",
                ],
            )
        }
    assert {"person.update", "person.discharge", "alert.assign", "alert.note"} <= audited, audited
