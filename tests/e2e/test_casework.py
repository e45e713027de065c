"""A person's record changes with history, over HTTP against the live server: transfer between
street offices (scope and open alerts move), level change, fence change judged from the next
ping, discharge (devices, orders, alerts, timers), closed models and bounds."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import websockets

from alerts import timer_store
from alerts.silence import SILENCE
from monitor.registry import schemas
from monitor.registry import store as registry_store
from simulators.fleet import offset
from tests.e2e.conftest import Live, Officer, log_in, make_admin
from tests.e2e.test_audit_coverage import open_alert
from tests.e2e.test_slice import CENTRE, enrol, receive_until, square

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
AWAY = offset(*CENTRE, 3000, 0)  # 2 km north of the enrolled 1 km square's edge


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Streets:
    """Two street offices of the officer's city, an admin of each, a fence of the city."""

    a: int
    b: int
    token_a: str
    token_b: str
    city_fence: int
    suffix: str


async def streets(live: Live, officer: Officer, pool: asyncpg.Pool) -> Streets:
    suffix = secrets.token_hex(4)
    ids, tokens = [], []
    for name in ("a", "b"):
        async with pool.acquire() as conn:
            street = await registry_store.insert_jurisdiction(
                conn,
                data=schemas.JurisdictionIn(
                    name=f"street-{name}-{suffix}",
                    level="street",
                    parent_id=officer.jurisdiction_id,
                ),
            )
            password = await make_admin(conn, street.id, f"street-{name}-{suffix}")
        ids.append(street.id)
        tokens.append(await log_in(live.base_url, f"street-{name}-{suffix}", password))
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        fence_id = await city_fence(client, officer, f"city {suffix}")
    return Streets(ids[0], ids[1], tokens[0], tokens[1], fence_id, suffix)


async def city_fence(client: httpx.AsyncClient, officer: Officer, name: str) -> int:
    """A 1 km allowed square of the officer's own city, made over the API; its id."""
    fence = await client.post(
        "/v1/fences",
        headers=bearer(officer.token),
        json={
            "name": name,
            "role": "allowed",
            "geometry": square(*CENTRE, 1000),
            "jurisdiction_id": officer.jurisdiction_id,
        },
    )
    assert fence.status_code == 201, fence.text
    fence_id: int = fence.json()["id"]
    return fence_id


async def new_person(
    client: httpx.AsyncClient, token: str, jurisdiction_id: int, fence_id: int
) -> dict[str, Any]:
    made = await client.post(
        "/v1/persons",
        headers=bearer(token),
        json={
            "case_number": f"CW-{secrets.token_hex(6)}",
            "supervision_level": "normal",
            "allowed_fence_ids": [fence_id],
            "jurisdiction_id": jurisdiction_id,
        },
    )
    assert made.status_code == 201, made.text
    person: dict[str, Any] = made.json()
    return person


async def last_event_id(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        last: int = await conn.fetchval("SELECT last_id FROM event_counter")
    return last


async def test_a_transfer_moves_the_person_and_their_open_alerts(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    where = await streets(live, officer, pool)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        person = await new_person(client, where.token_a, where.a, where.city_fence)
        url = f"/v1/persons/{person['id']}"
        alert_id = await open_alert(pool, person["id"])
        assert (await client.get(url, headers=bearer(where.token_b))).status_code == 404
        # street A's officer follows it up: they cannot see street B, so the move takes it off
        me = (await client.get("/v1/auth/me", headers=bearer(where.token_a))).json()["id"]
        taken = await client.post(
            f"/v1/alerts/{alert_id}/assign", headers=bearer(where.token_a), json={"officer_id": me}
        )
        assert taken.status_code == 200 and taken.json()["assigned_to"] == me, taken.text
        # street A cannot hand the person to an office out of its reach
        refused = await client.patch(
            url, headers=bearer(where.token_a), json={"jurisdiction_id": where.b}
        )
        assert refused.status_code == 422 and refused.json()["field"] == "jurisdiction_id"

        stream = f"{live.ws_url}/v1/stream?token={{}}&positions=false"
        async with (
            websockets.connect(stream.format(where.token_a)) as old,
            websockets.connect(stream.format(where.token_b)) as new,
        ):
            await asyncio.sleep(0.5)  # subscribed live (no `since`): the hub's own scoping
            moved = await client.patch(
                url,
                headers=bearer(officer.token),
                json={"jurisdiction_id": where.b, "reason": "执行地变更"},
            )
            assert moved.status_code == 200, moved.text
            heard = await receive_until(new, {"alert.updated"}, person["id"])
            left = await receive_until(old, {"person.transferred"}, person["id"])
        assert moved.json()["jurisdiction_id"] == where.b
        update = next(m for m in heard if m["type"] == "alert.updated")
        assert update["alert"]["id"] == alert_id and update["alert"]["jurisdiction_id"] == where.b
        assert not any(m["type"] == "person.transferred" for m in heard)
        transferred = next(m for m in left if m["type"] == "person.transferred")
        assert transferred["alert_ids"] == [alert_id]
        assert transferred["case_number"] == person["case_number"]
        assert transferred["to_jurisdiction_name"] == f"street-b-{where.suffix}"
        assert not any(m["type"] == "alert.updated" for m in left), "the old office is told once"

        for path in (url, f"{url}/history", f"/v1/alerts/{alert_id}"):
            assert (await client.get(path, headers=bearer(where.token_a))).status_code == 404
        assert (await client.get(url, headers=bearer(where.token_b))).status_code == 200
        listed = await client.get(
            "/v1/alerts", headers=bearer(where.token_b), params={"person_id": person["id"]}
        )
        assert [(a["id"], a["status"]) for a in listed.json()] == [(alert_id, "open")]
        assert listed.json()[0]["assigned_to"] is None, "no one in street B follows it up yet"
        assert update["alert"]["assigned_to"] is None
        history = (await client.get(f"{url}/history", headers=bearer(where.token_b))).json()
    assert [h["changes"] for h in history] == [
        {"jurisdiction_id": {"old": where.a, "new": where.b}}
    ]
    assert history[0]["reason"] == "执行地变更" and history[0]["action"] == "update"


async def test_a_level_change_shows_in_the_record_its_history_and_the_audit(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-LEVEL-{secrets.token_hex(4)}")
        url = f"/v1/persons/{device.person_id}"
        tag = (await client.get(url, headers=auth)).headers["ETag"]
        changed = await client.patch(
            url,
            headers={**auth, "If-Match": tag},
            json={"supervision_level": "lenient", "full_name": "张三", "reason": "月度评估"},
        )
        assert changed.status_code == 200, changed.text
        assert changed.headers["ETag"] != tag
        stale = await client.patch(
            url, headers={**auth, "If-Match": tag}, json={"supervision_level": "strict"}
        )
        assert stale.status_code == 412 and stale.json()["field"] == "If-Match"
        record = (await client.get(url, headers=auth)).json()
        history = (await client.get(f"{url}/history", headers=auth)).json()
        unchanged = await client.patch(url, headers=auth, json={"supervision_level": "lenient"})
        me = (await client.get("/v1/auth/me", headers=auth)).json()["id"]
    assert record["supervision_level"] == "lenient" and record["full_name"] == "张三"
    assert unchanged.status_code == 200
    assert len(history) == 1, "a stale or no-op patch leaves no history"
    assert history[0]["changes"] == {
        "supervision_level": {"old": "strict", "new": "lenient"},
        "full_name": {"old": "", "new": "张三"},
    }
    assert history[0]["officer_id"] == me and history[0]["reason"] == "月度评估"
    async with pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT details FROM audit_log WHERE action = 'person.update' AND subject = $1",
            f"person:{device.person_id}",
        )
    assert [r["details"]["fields"] for r in audited] == [["full_name", "supervision_level"]]


async def post_pings(
    client: httpx.AsyncClient, token: str, where: tuple[float, float], start_s: float, n: int
) -> float:
    """`n` fixes 40 s apart from `start_s`; answers the last fix's time."""
    for i in range(n):
        fix = {"ts": int((start_s + 40 * i) * 1000), "lat": where[0], "lon": where[1]}
        answer = await client.post(
            "/v1/pings", headers=bearer(token), json={**fix, "accuracy_m": 10}
        )
        assert answer.status_code == 202, answer.text
    return start_s + 40 * (n - 1)


async def judged_through(
    client: httpx.AsyncClient, officer: Officer, person_id: int, last_s: float
) -> dict[str, Any]:
    """The person's latest position once the evaluator has judged the fix at `last_s`."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        latest = (await client.get("/v1/positions/latest", headers=bearer(officer.token))).json()
        mine = next((p for p in latest if p["person_id"] == person_id), None)
        if mine and datetime.fromisoformat(mine["ts"]).timestamp() >= last_s - 0.001:
            found: dict[str, Any] = mine
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"person {person_id}'s fix at {last_s} was not judged in 20 s")


async def out_of_area(pool: asyncpg.Pool, person_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT status, details FROM alerts WHERE person_id = $1 AND type = 'out_of_area'",
            person_id,
        )


async def new_fence_around(
    client: httpx.AsyncClient, officer: Officer, at: tuple[float, float]
) -> int:
    fence = await client.post(
        "/v1/fences",
        headers=bearer(officer.token),
        json={"name": "moved home", "role": "allowed", "geometry": square(*at, 1000)},
    )
    assert fence.status_code == 201, fence.text
    fence_id: int = fence.json()["id"]
    return fence_id


async def test_a_fence_change_judges_the_next_ping_by_the_new_fence(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    start = time.time() - 900
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-FENCE-{secrets.token_hex(4)}")
        last = await post_pings(client, device.token, CENTRE, start, 3)
        await judged_through(client, officer, device.person_id, last)
        moved = await new_fence_around(client, officer, AWAY)
        changed = await client.patch(
            f"/v1/persons/{device.person_id}",
            headers=bearer(officer.token),
            json={"allowed_fence_ids": [moved]},
        )
        assert changed.status_code == 200 and changed.json()["allowed_fence_ids"] == [moved]
        # far outside the old square, inside the new one: judged by the old, this would open
        last = await post_pings(client, device.token, AWAY, last + 40, 5)
        position = await judged_through(client, officer, device.person_id, last)
    assert position["status"] == "inside"
    assert await out_of_area(pool, device.person_id) == []


async def test_an_open_out_of_area_clears_once_inside_the_new_fence(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    start = time.time() - 900
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-CLEAR-{secrets.token_hex(4)}")
        last = await post_pings(client, device.token, AWAY, start, 4)
        await judged_through(client, officer, device.person_id, last)
        (opened,) = await out_of_area(pool, device.person_id)
        assert opened["status"] == "open" and "returned_at" not in opened["details"]
        moved = await new_fence_around(client, officer, AWAY)
        answer = await client.patch(
            f"/v1/persons/{device.person_id}",
            headers=bearer(officer.token),
            json={"allowed_fence_ids": [moved]},
        )
        assert answer.status_code == 200, answer.text
        last = await post_pings(client, device.token, AWAY, last + 40, 2)
        position = await judged_through(client, officer, device.person_id, last)
    assert position["status"] == "inside"
    (back,) = await out_of_area(pool, device.person_id)
    assert back["details"]["returned_at"], "the return is recorded on the alert"


async def test_discharge_ends_tracking_and_keeps_the_record(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-END-{secrets.token_hex(4)}")
        control = await enrol(client, officer, f"CW-KEEP-{secrets.token_hex(4)}")
        for sim in (device, control):
            last = await post_pings(client, sim.token, CENTRE, time.time() - 120, 1)
            await judged_through(client, officer, sim.person_id, last)
        alert_id = await open_alert(pool, device.person_id)
        url = f"/v1/persons/{device.person_id}"
        since = await last_event_id(pool)
        stream = f"{live.ws_url}/v1/stream?token={officer.token}&since={since}&positions=false"
        today = datetime.now(SHANGHAI).date().isoformat()  # the person's time zone
        async with websockets.connect(stream) as ws:
            ended = await client.post(
                f"{url}/discharge", headers=auth, json={"reason": "期满解矫", "date": today}
            )
            assert ended.status_code == 200, ended.text
            heard = await receive_until(ws, {"alert.resolved"}, device.person_id)
        body = ended.json()
        assert body["revoked_device_ids"] == [device.device_id]
        assert body["closed_alert_ids"] == [alert_id] and len(body["revoked_order_ids"]) == 1
        assert body["person"]["discharged_at"] and body["person"]["discharge_reason"] == "期满解矫"
        assert next(m for m in heard if m["type"] == "alert.resolved")["alert"]["id"] == alert_id

        await asyncio.sleep(live.settings.device_cache_s + 0.5)
        fix = {"ts": int(time.time() * 1000), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 5}
        refused = await client.post("/v1/pings", headers=bearer(device.token), json=fix)
        assert refused.status_code == 401
        kept = await client.post("/v1/pings", headers=bearer(control.token), json=fix)
        assert kept.status_code == 202

        alert = (await client.get(f"/v1/alerts/{alert_id}", headers=auth)).json()
        assert (alert["status"], alert["disposition"]) == ("resolved", "auto_cleared")
        assert "期满解矫" in alert["note"]
        (order,) = (await client.get(f"{url}/orders", headers=auth)).json()
        assert order["revoked_at"] and "期满解矫" in order["revoke_reason"]
        history = (await client.get(f"{url}/history", headers=auth)).json()
        assert [h["action"] for h in history] == ["discharge"]
        assert (await client.get(url, headers=auth)).json()["discharge_date"] == today
        again = {
            "discharge": await client.post(f"{url}/discharge", headers=auth, json={
                "reason": "again", "date": today}),
            "patch": await client.patch(url, headers=auth, json={"full_name": "x"}),
            "device": await client.post("/v1/devices", headers=auth, json={
                "person_id": device.person_id, "kind": "phone"}),
        }  # fmt: skip
    assert {k: v.status_code for k, v in again.items()} == dict.fromkeys(again, 409)
    async with pool.acquire() as conn:  # the timers' silent devices, an hour on
        later = await conn.fetchval("SELECT now() + interval '1 hour'")
        lost = await timer_store.lost_devices(conn, now=later, rule=SILENCE)
        silent = {r["person_id"] for r in lost}
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE subject = $1 AND action = 'person.discharge'",
            f"person:{device.person_id}",
        )
    assert control.person_id in silent and device.person_id not in silent
    assert len(actions) == 1


async def test_unknown_fields_nulls_and_bad_values_are_refused_by_name(
    live: Live, officer: Officer
) -> None:
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-BAD-{secrets.token_hex(4)}")
        other = await enrol(client, officer, f"CW-TAKEN-{secrets.token_hex(4)}")
        taken = (await client.get(f"/v1/persons/{other.person_id}", headers=auth)).json()
        url = f"/v1/persons/{device.person_id}"
        today = datetime.now(UTC).date()
        cases: list[tuple[str, str, Any, int, str | None]] = [
            ("PATCH", url, {"supervison_level": "strict"}, 422, "supervison_level"),
            ("PATCH", url, {"full_name": None}, 422, "full_name"),
            ("PATCH", url, {"full_name": "a\u0000b"}, 422, "full_name"),
            ("PATCH", url, {"timezone": "Mars/Olympus"}, 422, "timezone"),
            ("PATCH", url, {"timezone": "../etc"}, 422, "timezone"),
            ("PATCH", url, {"allowed_fence_ids": []}, 422, "allowed_fence_ids"),
            ("PATCH", url, {"allowed_fence_ids": [2**63]}, 422, "allowed_fence_ids.0"),
            ("PATCH", url, {"allowed_fence_ids": [2**63 - 1]}, 422, "allowed_fence_ids"),
            ("PATCH", url, {"jurisdiction_id": 2**63 - 1}, 422, "jurisdiction_id"),
            ("PATCH", url, {"case_number": taken["case_number"]}, 409, "case_number"),
            ("PATCH", "/v1/persons/9223372036854775808", {"full_name": "x"}, 422, "person_id"),
            ("PATCH", "/v1/persons/9223372036854775807", {"full_name": "x"}, 404, None),
            ("GET", f"{url}/history?limt=5", None, 422, "limt"),
            ("GET", f"{url}/history?offset=-1", None, 422, "offset"),
            ("POST", f"{url}/discharge", {"reason": "r", "date": today.isoformat(), "x": 1},
             422, "x"),
            ("POST", f"{url}/discharge",
             {"reason": "r", "date": (today + timedelta(days=2)).isoformat()}, 422, "date"),
            ("POST", f"{url}/discharge", {"reason": "r", "date": "0000-01-01"}, 422, "date"),
            ("POST", f"{url}/discharge", {"reason": " ", "date": today.isoformat()},
             422, "reason"),
        ]  # fmt: skip
        for method, path, body, status, field in cases:
            answer = await client.request(method, path, headers=auth, json=body)
            assert (answer.status_code, answer.json().get("field")) == (status, field), (
                method,
                path,
                body,
                answer.text,
            )
        record = (await client.get(url, headers=auth)).json()
    assert record["supervision_level"] == "strict" and record["discharged_at"] is None


async def test_another_jurisdictions_officer_gets_404(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        elsewhere = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"elsewhere-{suffix}", level="city")
        )
        password = await make_admin(conn, elsewhere.id, f"elsewhere-{suffix}")
    stranger = bearer(await log_in(live.base_url, f"elsewhere-{suffix}", password))
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-SCOPE-{suffix}")
        url = f"/v1/persons/{device.person_id}"
        today = datetime.now(UTC).date().isoformat()
        answers = [
            await client.patch(url, headers=stranger, json={"supervision_level": "lenient"}),
            await client.get(f"{url}/history", headers=stranger),
            await client.post(f"{url}/discharge", headers=stranger, json={
                "reason": "r", "date": today}),
        ]  # fmt: skip
        record = (await client.get(url, headers=bearer(officer.token))).json()
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].json()["detail"] == f"person {device.person_id} not found"
    assert record["supervision_level"] == "strict" and record["discharged_at"] is None


async def test_two_officers_patching_from_one_read_cannot_both_win(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    """Both send the ETag they read, at the same moment (held at the person's row until both
    have arrived): the row lock orders them, the second sees the revision the first made and
    gets 412, so neither change is lost without a word."""
    auth = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"CW-RACE-{secrets.token_hex(4)}")
        url = f"/v1/persons/{device.person_id}"
        tag = (await client.get(url, headers=auth)).headers["ETag"]
        async with pool.acquire() as conn:
            held = conn.transaction()
            await held.start()
            await conn.execute("SELECT 1 FROM persons WHERE id = $1 FOR UPDATE", device.person_id)
            racing = [
                asyncio.create_task(
                    client.patch(url, headers={**auth, "If-Match": tag}, json={"full_name": name})
                )
                for name in ("李四", "王五")
            ]
            await asyncio.sleep(1.0)  # both requests are waiting on the row
            await held.commit()
        answers = await asyncio.gather(*racing)
        history = (await client.get(f"{url}/history", headers=auth)).json()
    assert sorted(a.status_code for a in answers) == [200, 412]
    (won,) = (a for a in answers if a.status_code == 200)
    assert [h["changes"]["full_name"]["new"] for h in history] == [won.json()["full_name"]]
