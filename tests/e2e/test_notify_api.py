"""The duty roster and notification channels over HTTP against the live server: scope (another
city's officer gets 404), roles (oversight reads, never writes), closed inputs and bounds, a
secret shown once, and a channel's test delivery signed with it."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
import httpx
import pytest

from monitor.auth import security
from monitor.auth import store as auth_store
from monitor.auth.models import Role
from monitor.notify import signing
from monitor.registry import schemas
from monitor.registry import store as registry_store
from pings.pg import Conn
from tests.e2e.conftest import Live, Officer, log_in, running, settings_for
from tests.monitor.notify.test_notify import open_alert
from tests.notify_receiver import receiving

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Town:
    """The admin's city with a district and a street, and accounts of each role."""

    street: int
    other_street: int
    street_officer: int
    district_officer: int
    other_street_officer: int
    admin: dict[str, str]
    oversight: dict[str, str]
    plain: dict[str, str]
    stranger: dict[str, str]  # an admin of another city


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def account(live: Live, conn: Conn, role: Role, where: int) -> tuple[int, str]:
    name, password = f"n-{role.value}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    officer_id = await auth_store.insert_officer(
        conn, username=name, password_hash=security.hash_password(password),
        display_name=f"{role.value} {name}", role=role, jurisdiction_id=where,
    )  # fmt: skip
    return officer_id, await log_in(live.base_url, name, password)


async def place(
    conn: Conn, level: Literal["city", "district", "street"], parent: int | None
) -> int:
    data = schemas.JurisdictionIn(name=f"{level}-{secrets.token_hex(3)}", level=level,
                                  parent_id=parent)  # fmt: skip
    return (await registry_store.insert_jurisdiction(conn, data=data)).id


@pytest.fixture
async def town(live: Live, officer: Officer, pool: asyncpg.Pool) -> Town:
    async with pool.acquire() as conn:
        district = await place(conn, "district", officer.jurisdiction_id)
        street, other_street = (
            await place(conn, "street", district),
            await place(conn, "street", district),
        )
        elsewhere = await place(conn, "city", None)
        street_officer, _ = await account(live, conn, Role.OFFICER, street)
        district_officer, _ = await account(live, conn, Role.SUPERVISOR, district)
        other_street_officer, _ = await account(live, conn, Role.OFFICER, other_street)
        _, oversight = await account(live, conn, Role.OVERSIGHT, officer.jurisdiction_id)
        _, plain = await account(live, conn, Role.OFFICER, officer.jurisdiction_id)
        _, stranger = await account(live, conn, Role.ADMIN, elsewhere)
    return Town(
        street, other_street, street_officer, district_officer, other_street_officer,
        bearer(officer.token), bearer(oversight), bearer(plain), bearer(stranger),
    )  # fmt: skip


async def test_a_channel_secret_is_shown_once_and_signs_its_test_delivery(
    live: Live, town: Town
) -> None:
    async with receiving() as receiver, httpx.AsyncClient(base_url=live.base_url) as client:
        made = await client.post(
            f"/v1/jurisdictions/{town.street}/channels", headers=town.admin,
            json={"name": "street duty SMS", "url": receiver.url("/hook")},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        channel = made.json()
        assert channel["secret"].startswith("whsec_") and channel["alert_types"] == []
        assert channel["events"] == ["opened", "escalated"]
        listed = await client.get(f"/v1/jurisdictions/{town.street}/channels", headers=town.admin)
        assert [c["id"] for c in listed.json()] == [channel["id"]]
        assert "secret" not in listed.json()[0]

        path = f"/v1/channels/{channel['id']}"
        patched = await client.patch(
            path, headers=town.admin, json={"alert_types": ["tamper"], "events": ["escalated"]}
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["alert_types"], patched.json()["events"]) == (
            ["tamper"],
            ["escalated"],
        )
        rotated = (await client.post(f"{path}/rotate-secret", headers=town.admin)).json()
        assert rotated["secret"] != channel["secret"]

        tested = await client.post(f"{path}/test", headers=town.admin)
        assert tested.status_code == 200, tested.text
        assert (tested.json()["status"], len(tested.json()["receipts"])) == ("delivered", 1)
        [got] = receiver.at("/hook")
        assert got.headers["x-monitor-event"] == "channel.test"
        for secret, valid in ((rotated["secret"], True), (channel["secret"], False)):
            assert signing.is_valid(
                secret, signature=got.headers["x-monitor-signature"],
                timestamp=got.headers["x-monitor-timestamp"], body=got.body, now_s=time.time(),
            ) is valid  # fmt: skip
        receiver.statuses["/hook"] = [500]
        failed = (await client.post(f"{path}/test", headers=town.admin)).json()
        assert failed["status"] == "failed" and failed["receipts"][0]["status_code"] == 500
        history = await client.get(f"{path}/deliveries", headers=town.oversight,
                                   params={"status": "failed"})  # fmt: skip
        assert [d["id"] for d in history.json()] == [failed["id"]]
        unsent = await client.get(f"{path}/deliveries", headers=town.oversight,
                                  params={"status": "superseded"})  # fmt: skip
        assert (unsent.status_code, unsent.json()) == (200, [])
        await client.patch(path, headers=town.admin, json={"enabled": False})
        assert (await client.post(f"{path}/test", headers=town.admin)).status_code == 409


async def test_channels_are_scoped_and_written_by_supervisors_only(live: Live, town: Town) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        base = f"/v1/jurisdictions/{town.street}/channels"
        body = {"name": "gw", "url": "https://gw.example/hook"}
        made = (await client.post(base, headers=town.admin, json=body)).json()
        path = f"/v1/channels/{made['id']}"
        for method, url, json in (
            ("POST", base, body), ("GET", base, None), ("PATCH", path, {"name": "x"}),
            ("PATCH", path, {"url": "http://10.0.0.1/"}),  # 404 before the address is judged
            ("POST", f"{path}/rotate-secret", None), ("POST", f"{path}/test", None),
            ("GET", f"{path}/deliveries", None),
        ):  # fmt: skip
            answer = await client.request(method, url, headers=town.stranger, json=json)
            assert answer.status_code == 404, (method, url, answer.text)
            if method != "GET":
                assert (await client.request(method, url, headers=town.oversight,
                                             json=json)).status_code == 403  # fmt: skip
                assert (await client.request(method, url, headers=town.plain,
                                             json=json)).status_code == 403  # fmt: skip
        assert (await client.get(base, headers=town.oversight)).status_code == 200
        assert (await client.get(base, headers=town.plain)).status_code == 403


@pytest.mark.parametrize(
    ("method", "suffix", "body", "field"),
    [
        ("POST", "", {"name": "gw", "url": "https://gw.example/", "colour": "red"}, "colour"),
        ("POST", "", {"name": "gw", "url": "ftp://gw.example/"}, "url"),
        ("POST", "", {"name": "gw", "url": "https://gw.example/" + "a" * 2000}, "url"),
        ("POST", "", {"name": "gw\x00", "url": "https://gw.example/"}, "name"),
        ("POST", "", {"name": "gw", "url": "https://gw.example/", "events": []}, "events"),
        ("POST", "", {"name": "gw", "url": "https://gw.example/", "alert_types": ["x"]},
         "alert_types"),
        # into the service's own host or network (the live server allows 127.0.0.0/8 only)
        ("POST", "", {"name": "gw", "url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ("POST", "", {"name": "gw", "url": "http://[::1]:6379/"}, "url"),
        ("PATCH", "", {"url": "http://10.0.0.1/sms"}, "url"),
        ("PATCH", "", {"url": None}, "url"),
        ("PATCH", "", {"secret": "mine"}, "secret"),
    ],
)  # fmt: skip
async def test_channel_inputs_are_refused_naming_the_field(
    live: Live, town: Town, method: str, suffix: str, body: dict[str, object], field: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        base = f"/v1/jurisdictions/{town.street}/channels"
        url = base
        if method == "PATCH":
            made = await client.post(base, headers=town.admin,
                                     json={"name": "gw", "url": "https://gw.example/"})  # fmt: skip
            url = f"/v1/channels/{made.json()['id']}"
        answer = await client.request(method, url + suffix, headers=town.admin, json=body)
        assert answer.status_code == 422, answer.text
        assert field in answer.text
        unknown = await client.get(base, headers=town.admin, params={"enabled": "true"})
        assert unknown.status_code == 422 and "enabled" in unknown.text


async def test_the_roster_says_who_is_on_duty_and_refuses_what_cannot_stand_duty(
    live: Live, town: Town
) -> None:
    now = datetime.now(UTC)
    base = f"/v1/jurisdictions/{town.street}/shifts"

    def shift(officer_id: int, start_h: float, end_h: float, **extra: object) -> dict[str, object]:
        return {"officer_id": officer_id, "starts_at": (now + timedelta(hours=start_h)).isoformat(),
                "ends_at": (now + timedelta(hours=end_h)).isoformat(), **extra}  # fmt: skip

    async with httpx.AsyncClient(base_url=live.base_url) as client:
        day = await client.post(
            base, headers=town.admin, json=shift(town.street_officer, -1, 8, contact="+86 755 1")
        )
        assert day.status_code == 201, day.text
        # two on duty: the district's supervisor sees the street's alerts too
        backup = await client.post(
            base, headers=town.admin, json=shift(town.district_officer, -1, 2)
        )
        assert backup.status_code == 201, backup.text
        for body, field in (
            (shift(town.other_street_officer, 0, 8), "officer_id"),  # cannot see this street
            (shift(town.street_officer, 0, 24 * 8), "ends_at"),  # longer than a week
            (shift(town.street_officer, 8, 0), "ends_at"),
            (shift(town.street_officer, -9, -1), "ends_at"),  # over already
            (shift(town.street_officer, 0, 8, shift="night"), "shift"),
        ):
            refused = await client.post(base, headers=town.admin, json=body)
            assert refused.status_code == 422 and field in refused.text, refused.text

        duty = (await client.get("/v1/duty", headers=town.oversight)).json()
        [street] = [d for d in duty if d["office"]["id"] == town.street]
        assert {d["shift_id"] for d in street["on_duty"]} == {day.json()["id"], backup.json()["id"]}
        later = (now + timedelta(hours=4)).isoformat()
        duty = (await client.get("/v1/duty", headers=town.admin, params={"at": later})).json()
        [street] = [d for d in duty if d["office"]["id"] == town.street]
        assert [d["officer_id"] for d in street["on_duty"]] == [town.street_officer]
        [other] = [d for d in duty if d["office"]["id"] == town.other_street]
        assert other["on_duty"] == []

        cancel = f"/v1/shifts/{backup.json()['id']}/cancel"
        assert (await client.post(cancel, headers=town.oversight)).status_code == 403
        assert (await client.post(cancel, headers=town.stranger)).status_code == 404
        cancelled = await client.post(cancel, headers=town.admin)
        assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"]
        assert (await client.post(cancel, headers=town.admin)).status_code == 409
        listed = (await client.get(base, headers=town.plain)).json()
        assert [s["id"] for s in listed] == [day.json()["id"]]
        listed = await client.get(base, headers=town.plain, params={"include_cancelled": "true"})
        assert len(listed.json()) == 2

        assert (await client.get(base, headers=town.stranger)).status_code == 404
        assert (
            await client.post(base, headers=town.stranger, json=shift(town.street_officer, 0, 8))
        ).status_code == 404
        assert (
            await client.post(base, headers=town.oversight, json=shift(town.street_officer, 0, 8))
        ).status_code == 403
        too_long = {"from": now.isoformat(), "to": (now + timedelta(days=40)).isoformat()}
        assert (await client.get(base, headers=town.admin, params=too_long)).status_code == 422
        assert (await client.get(base, headers=town.admin, params={"form": "x"})).status_code == 422
        assert (
            await client.get("/v1/duty", headers=town.admin, params={"at": "2026-01-01T00:00:00"})
        ).status_code == 422


async def test_an_alert_s_deliveries_are_read_within_reach(
    live: Live, town: Town, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        person = await conn.fetchval(
            "INSERT INTO persons (case_number, supervision_level, jurisdiction_id) "
            "VALUES ($1, 'normal', $2) RETURNING id", f"D-{secrets.token_hex(4)}", town.street,
        )  # fmt: skip
        alert_id = await conn.fetchval(
            "INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, "
            "last_evidence_at) VALUES ($1, $2, 'tamper', 'open', now(), now()) RETURNING id",
            person, town.street,
        )  # fmt: skip
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        path = f"/v1/alerts/{alert_id}/deliveries"
        assert (await client.get(path, headers=town.oversight)).json() == []
        assert (await client.get(path, headers=town.stranger)).status_code == 404
        assert (await client.get(path, headers=town.admin, params={"x": 1})).status_code == 422


async def test_the_app_s_own_loops_deliver_an_alert_to_the_rung_office(
    town: Town, pool: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    """The notifier as `monitor up` runs it (supervised loops), not driven by the test."""
    settings = settings_for(database_url, redis_url).model_copy(
        update={"notify_interval_s": 0.2, "timer_interval_s": 3600.0}
    )
    async with (
        receiving() as receiver,
        running(settings) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        made = await client.post(
            f"/v1/jurisdictions/{town.street}/channels", headers=town.admin,
            json={"name": "gw", "url": receiver.url("/loop"), "alert_types": ["tamper"]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        async with pool.acquire() as conn:
            person = await conn.fetchval(
                "INSERT INTO persons (case_number, supervision_level, jurisdiction_id) "
                "VALUES ($1, 'strict', $2) RETURNING id", f"L-{secrets.token_hex(4)}", town.street,
            )  # fmt: skip
        await open_alert(pool, person, alert_type="tamper")
        await open_alert(pool, person, alert_type="low_battery")  # not a type the channel takes
        for _ in range(100):
            if receiver.at("/loop"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # and nothing more comes
        [got] = receiver.at("/loop")
        assert got.json["alert"]["type"] == "tamper" and got.json["office"]["id"] == town.street
