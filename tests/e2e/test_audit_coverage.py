"""Every officer write and every read of positions leaves a row in the audit log.

The walk over the app's OpenAPI makes a new write route without a case here fail: give it a
case (or, for what is no officer's act on a record, a reason in EXEMPT)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import websockets

from monitor.app import create_app
from monitor.settings import Settings
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol, square

pytestmark = pytest.mark.slow

EXEMPT = {
    ("POST", "/v1/pings"): "a device's own reports, not an officer's act",
    ("POST", "/v1/auth/token"): "opens a session: no record changes, no position is read",
    ("POST", "/v1/auth/logout"): "ends a session: no record changes, no position is read",
}


@dataclass
class World:
    """What the cases act on, made once through the API by the admin officer."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    officer: Officer
    person_id: int
    device_id: str
    alert_id: int
    made: dict[str, int]  # ids the cases made, for the cases after them


Case = Callable[[World], Awaitable[httpx.Response]]
NOW = datetime.now(UTC)


async def post(world: World, path: str, body: object = None, key: str = "") -> httpx.Response:
    answer = await world.client.post(path, headers=world.headers, json=body)
    if key and answer.status_code < 300:
        world.made[key] = answer.json()["id"]
    return answer


async def assign_to_self(w: World) -> httpx.Response:
    me = (await w.client.get("/v1/auth/me", headers=w.headers)).json()["id"]
    return await post(w, f"/v1/alerts/{w.alert_id}/assign", {"officer_id": me})


def person(w: World) -> str:
    return f"/v1/persons/{w.person_id}"


async def my_shift(w: World) -> httpx.Response:
    """The admin on duty at their own office for the next hours."""
    me = (await w.client.get("/v1/auth/me", headers=w.headers)).json()["id"]
    return await post(w, f"/v1/jurisdictions/{w.officer.jurisdiction_id}/shifts", {
        "officer_id": me, "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(hours=8)).isoformat()}, "shift")  # fmt: skip


CASES: dict[tuple[str, str], tuple[str, Case]] = {
    ("POST", "/v1/jurisdictions"): ("jurisdiction.create", lambda w: post(
        w, "/v1/jurisdictions",
        {"name": "d", "level": "district", "parent_id": w.officer.jurisdiction_id}, "district")),
    ("POST", "/v1/officers"): ("officer.create", lambda w: post(w, "/v1/officers", {
        "username": f"audited-{w.person_id}", "password": "correct horse", "role": "officer",
        "jurisdiction_id": w.made["district"]})),
    ("POST", "/v1/fences"): ("fence.create", lambda w: post(w, "/v1/fences", {
        "name": "f", "role": "allowed", "geometry": square(*CENTRE, 100)}, "fence")),
    ("PATCH", "/v1/fences/{fence_id}"): ("fence.update", lambda w: w.client.patch(
        f"/v1/fences/{w.made['fence']}", headers=w.headers, json={"name": "f2"})),
    ("POST", "/v1/persons"): ("person.create", lambda w: post(w, "/v1/persons", {
        "case_number": f"AUDITED-{w.person_id}", "supervision_level": "normal",
        "allowed_fence_ids": [w.made["fence"]]})),
    ("POST", "/v1/persons/{person_id}/orders"): ("order.create", lambda w: post(
        w, f"{person(w)}/orders", {"kind": "information_check", "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(days=30)).isoformat(), "basis": "supervision_term",
        "approved_by": "county justice bureau"}, "order")),
    ("POST", "/v1/orders/{order_id}/revoke"): ("order.revoke", lambda w: post(
        w, f"/v1/orders/{w.made['order']}/revoke", {"reason": "no longer needed"})),
    ("POST", "/v1/devices"): ("device.enrol", lambda w: post(
        w, "/v1/devices", {"person_id": w.person_id, "kind": "phone"})),
    ("POST", "/v1/devices/{device_id}/rotate"): ("device.rotate", lambda w: post(
        w, f"/v1/devices/{w.device_id}/rotate")),
    ("POST", "/v1/devices/{device_id}/revoke"): ("device.revoke", lambda w: post(
        w, f"/v1/devices/{w.device_id}/revoke")),
    ("POST", "/v1/persons/{person_id}/rules"): ("rule.create", lambda w: post(
        w, f"{person(w)}/rules", {"kind": "thresholds", "params": {"exit_pings": 4}}, "rule")),
    ("DELETE", "/v1/persons/{person_id}/rules/{rule_id}"): ("rule.deactivate", lambda w: (
        w.client.delete(f"{person(w)}/rules/{w.made['rule']}", headers=w.headers))),
    ("POST", "/v1/persons/{person_id}/permits"): ("permit.create", lambda w: post(
        w, f"{person(w)}/permits", {"starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(hours=8)).isoformat()}, "permit")),
    ("POST", "/v1/persons/{person_id}/permits/{permit_id}/cancel"): ("permit.cancel", lambda w: (
        post(w, f"{person(w)}/permits/{w.made['permit']}/cancel"))),
    ("POST", "/v1/alerts/{alert_id}/assign"): ("alert.assign", lambda w: assign_to_self(w)),
    ("POST", "/v1/alerts/{alert_id}/notes"): ("alert.note", lambda w: post(
        w, f"/v1/alerts/{w.alert_id}/notes", {"body": "phoned: at home"})),
    ("POST", "/v1/alerts/{alert_id}/ack"): ("alert.acknowledged", lambda w: post(
        w, f"/v1/alerts/{w.alert_id}/ack", {"note": "seen"})),
    ("POST", "/v1/alerts/{alert_id}/resolve"): ("alert.resolved", lambda w: post(
        w, f"/v1/alerts/{w.alert_id}/resolve", {"disposition": "false_alarm"})),
    ("PATCH", "/v1/persons/{person_id}"): ("person.update", lambda w: w.client.patch(
        person(w), headers=w.headers, json={"supervision_level": "lenient"})),
    # last of the writes: the person's case is closed after it
    ("POST", "/v1/persons/{person_id}/discharge"): ("person.discharge", lambda w: post(
        w, f"{person(w)}/discharge", {"reason": "term served",
        "date": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()})),
    ("POST", "/v1/fences/{fence_id}/retire"): ("fence.retire", lambda w: post(
        w, f"/v1/fences/{w.made['fence']}/retire", {"reason": "redrawn"})),
    ("POST", "/v1/jurisdictions/{jurisdiction_id}/channels"): ("channel.create", lambda w: post(
        w, f"/v1/jurisdictions/{w.officer.jurisdiction_id}/channels",
        {"name": "gw", "url": "http://127.0.0.1:9/hook"}, "channel")),
    ("PATCH", "/v1/channels/{channel_id}"): ("channel.update", lambda w: w.client.patch(
        f"/v1/channels/{w.made['channel']}", headers=w.headers, json={"name": "gw2"})),
    ("POST", "/v1/channels/{channel_id}/rotate-secret"): ("channel.rotate_secret", lambda w: (
        post(w, f"/v1/channels/{w.made['channel']}/rotate-secret"))),
    ("POST", "/v1/channels/{channel_id}/test"): ("channel.test", lambda w: post(
        w, f"/v1/channels/{w.made['channel']}/test")),
    ("POST", "/v1/jurisdictions/{jurisdiction_id}/shifts"): ("shift.create", lambda w: my_shift(w)),
    ("POST", "/v1/shifts/{shift_id}/cancel"): ("shift.cancel", lambda w: post(
        w, f"/v1/shifts/{w.made['shift']}/cancel")),
    # reads of positions: alerts carry the fix that raised them
    ("GET", "/v1/persons/{person_id}/track"): ("read_track", lambda w: w.client.get(
        f"{person(w)}/track", headers=w.headers)),
    ("GET", "/v1/positions/latest"): ("read_latest_positions", lambda w: w.client.get(
        "/v1/positions/latest", headers=w.headers)),
    ("GET", "/v1/alerts"): ("read_alerts", lambda w: w.client.get(
        "/v1/alerts", headers=w.headers)),
    ("GET", "/v1/alerts/{alert_id}"): ("read_alert", lambda w: w.client.get(
        f"/v1/alerts/{w.alert_id}", headers=w.headers)),
    ("GET", "/v1/alerts/{alert_id}/notes"): ("read_alert_notes", lambda w: w.client.get(
        f"/v1/alerts/{w.alert_id}/notes", headers=w.headers)),
    # names the persons who left their area, from the alerts their positions raised
    ("GET", "/v1/reports/holiday-sweep"): ("read_holiday_sweep", lambda w: w.client.get(
        "/v1/reports/holiday-sweep", params={"from": "2026-01-01", "to": "2026-02-01"},
        headers=w.headers)),
}  # fmt: skip


def test_every_write_route_has_an_audit_case() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    writes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/v1/") and method != "get"
    }
    covered = {key for key in CASES if key[0] != "GET"} | set(EXEMPT)
    assert writes - covered == set(), "write routes without an audit case"
    assert covered - writes == set(), "cases for routes that no longer exist"


async def open_alert(pool: asyncpg.Pool, person_id: int) -> int:
    async with pool.acquire() as conn:
        alert_id: int = await conn.fetchval(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, "
            "last_evidence_at, details) SELECT id, jurisdiction_id, 'out_of_area', 'open', "
            'now(), now(), \'{"lat": 22.5, "lon": 114.0}\' FROM persons WHERE id = $1 '
            "RETURNING id",
            person_id,
        )
    return alert_id


async def audited(pool: asyncpg.Pool, officer_id: int, after: int) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT action FROM audit_log WHERE id > $1 AND officer_id = $2", after, officer_id
        )
    return [r["action"] for r in rows]


async def last_id(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")
    return found


@pytest.mark.parametrize("key", list(CASES), ids=lambda k: f"{k[0]} {k[1]}")
async def test_the_route_writes_its_audit_row(
    key: tuple[str, str], live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    headers = {"Authorization": f"Bearer {officer.token}"}
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        device = await enrol(client, officer, f"AUDIT-{key[0]}{key[1]}-{NOW.timestamp()}")
        me = (await client.get("/v1/auth/me", headers=headers)).json()["id"]
        alert_id = await open_alert(pool, device.person_id)
        world = World(client, headers, officer, device.person_id, device.device_id, alert_id, {})
        for earlier, (_, case) in CASES.items():  # what this case needs: the cases before it
            if earlier == key:
                break
            await case(world)
        before = await last_id(pool)
        answer = await CASES[key][1](world)
    assert answer.status_code < 300, answer.text
    assert CASES[key][0] in await audited(pool, me, before)


async def test_a_stream_socket_is_audited_once_with_its_replay(
    live: Live, officer: Officer, pool: asyncpg.Pool
) -> None:
    """One row a socket, not one a message, naming the replay asked for (`since`)."""
    headers = {"Authorization": f"Bearer {officer.token}"}
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        me = (await client.get("/v1/auth/me", headers=headers)).json()["id"]
    before = await last_id(pool)
    url = f"{live.ws_url}/v1/stream?token={officer.token}&since=0"
    async with websockets.connect(url) as ws:
        await ws.recv()  # something was sent: the row was written before it
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT action, details FROM audit_log WHERE id > $1 AND officer_id = $2", before, me
        )
    assert [(r["action"], r["details"]) for r in rows] == [
        ("read_stream", {"since": 0, "positions": True})
    ]
