"""The persons and devices lists: every filter filters, alone and together; a person's status
as defined (docs/decisions/0013); unknown parameters refused by name; bounded inputs; and no
list or filter reaching past the officer's jurisdiction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from monitor.registry import schemas
from monitor.registry import store as registry_store
from tests.e2e.conftest import Live, Officer, log_in, make_admin
from tests.e2e.test_registry import account, bearer, district, fence

pytestmark = pytest.mark.slow

INSERT_STATE = """
INSERT INTO person_state (person_id, state, last_ts, last_lat, last_lon)
VALUES ($1, $2, $3, 22.54, 114.05)
"""
INSERT_ORDER = """
INSERT INTO monitoring_orders (person_id, kind, starts_at, ends_at, approved_by)
VALUES ($1, 'electronic_positioning', $2, $2::timestamptz + interval '90 days', 'bureau head')
"""
INSERT_ALERT = """
INSERT INTO alerts (person_id, jurisdiction_id, type, status, opened_at, last_evidence_at, details)
SELECT $1, jurisdiction_id, $2, $3, $4, $4, $5 FROM persons WHERE id = $1
"""
INSERT_PING = """
INSERT INTO pings (device_id, person_id, ts, received_at, lat, lon, accuracy_m, battery_pct)
SELECT $1, person_id, $2, $3, 22.54, 114.05, 10, $4 FROM devices WHERE id = $1
"""


@dataclass(frozen=True)
class Roster:
    """Six persons, one of each status (two silent, by the two routes to it), in two districts."""

    tag: str
    now: datetime  # the fixes, states and alerts are dated from it
    north: int
    south: int
    ids: dict[str, int]  # name → person id
    devices: dict[str, str]  # name → device id
    headers: dict[str, str]


async def add_person(
    client: httpx.AsyncClient, headers: dict[str, str], case: str, level: str, where: int, name: str
) -> int:
    made = await client.post(
        "/v1/persons",
        headers=headers,
        json={
            "case_number": case,
            "full_name": name,
            "supervision_level": level,
            "allowed_fence_ids": [await fence(client, headers)],
            "jurisdiction_id": where,
        },
    )
    assert made.status_code == 201, made.text
    person_id: int = made.json()["id"]
    return person_id


async def add_device(
    client: httpx.AsyncClient, headers: dict[str, str], person_id: int, kind: str, device_id: str
) -> str:
    made = await client.post(
        "/v1/devices",
        headers=headers,
        json={"person_id": person_id, "kind": kind, "device_id": device_id},
    )
    assert made.status_code == 201, made.text
    return device_id


Alerts = list[tuple[str, str, dict[str, str]]]  # type, status, details
PEOPLE: dict[str, tuple[str, str, str | None, dict[str, int], Alerts]] = {
    # name: (supervision level, district, area status, state beside it, alerts)
    "out": ("strict", "north", "outside", {}, [("out_of_area", "open", {})]),
    "cut": ("normal", "north", "inside", {}, [("tamper", "acknowledged", {})]),
    "lost": ("lenient", "south", "inside", {"signal_lost_alert": 1}, []),
    "quiet": ("strict", "south", "inside", {}, [("signal_lost", "escalated", {})]),
    "home": (
        "strict",
        "south",
        "inside",
        {},
        [
            ("tamper", "open", {"cleared_at": "2026-01-01T00:00:00+00:00"}),
            ("signal_lost", "open", {"reconnected_at": "2026-01-01T00:00:00+00:00"}),
            ("tamper", "resolved", {}),
        ],
    ),
    "new": ("normal", "north", None, {}, []),
}


@pytest.fixture
async def roster(live: Live, officer: Officer, pool: asyncpg.Pool) -> Roster:
    tag = f"R{secrets.token_hex(3).upper()}"
    headers = bearer(officer.token)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        places = {
            "north": await district(client, officer, f"north-{tag}"),
            "south": await district(client, officer, f"south-{tag}"),
        }
        ids = {
            name: await add_person(
                client, headers, f"{tag}-{name}", level, places[place], f"姓名{name}"
            )
            for name, (level, place, *_) in PEOPLE.items()
        }
        devices = {
            "ankle": await add_device(client, headers, ids["out"], "ankle", f"{tag}-ankle"),
            "phone": await add_device(client, headers, ids["out"], "phone", f"{tag}-phone"),
            "old": await add_device(client, headers, ids["out"], "wrist", f"{tag}-old"),
            "mute": await add_device(client, headers, ids["cut"], "wrist", f"{tag}-mute"),
        }
        revoked = await client.post(f"/v1/devices/{devices['old']}/revoke", headers=headers)
        assert revoked.status_code == 200, revoked.text
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await record(conn, ids, devices, now)
    return Roster(tag, now, places["north"], places["south"], ids, devices, headers)


async def record(conn: Any, ids: dict[str, int], devices: dict[str, str], now: datetime) -> None:
    """States and alerts as the evaluator and timers leave them; fixes as ingest stores them.
    The devices were enrolled, and the orders of `out` and `cut` began, four days ago."""
    enrolled = now - timedelta(days=4)
    await conn.execute(  # in the order they were made
        "UPDATE devices SET created_at = created_at - interval '4 days' WHERE id = ANY($1::text[])",
        [*devices.values()],
    )
    for name in ("out", "cut"):
        await conn.execute(INSERT_ORDER, ids[name], enrolled)
    fixes = [  # device, fix age, arrival age, battery
        ("ankle", timedelta(minutes=1), timedelta(minutes=1), 40.0),
        ("ankle", timedelta(minutes=5), timedelta(minutes=5), 90.0),
        # its newest fix is 3 days old, though it arrived 2 h ago: silent (since the fix)
        ("phone", timedelta(days=3), timedelta(hours=2), 75.0),
        ("old", timedelta(minutes=2), timedelta(minutes=2), 5.0),  # revoked: not counted
    ]
    judged: dict[str, dict[str, int]] = {}  # the evaluator's newest fix of each device
    for device, fix_age, arrival_age, battery in fixes:
        await conn.execute(INSERT_PING, devices[device], now - fix_age, now - arrival_age, battery)
        fix_ms = round((now - fix_age).timestamp() * 1000)
        last = judged.setdefault(devices[device], {"last_ms": fix_ms})
        last["last_ms"] = max(last["last_ms"], fix_ms)
    for name, (_, _, area, extra, alerts) in PEOPLE.items():
        if area is not None:
            state = {"area": {"status": area}, **extra}
            if name == "out":
                state["devices"] = judged
            await conn.execute(INSERT_STATE, ids[name], state, now - timedelta(minutes=1))
        for type_, status, details in alerts:
            await conn.execute(INSERT_ALERT, ids[name], type_, status, now, details)


async def get(live: Live, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        return await client.get(path, headers=headers, params=params)


async def names(live: Live, roster: Roster, **params: Any) -> list[str]:
    """The names of the roster's persons the list answers, in its order."""
    reply = await get(live, "/v1/persons", roster.headers, **params)
    assert reply.status_code == 200, reply.text
    by_id = {v: k for k, v in roster.ids.items()}
    return [by_id[row["id"]] for row in reply.json() if row["id"] in by_id]


async def test_each_person_has_its_status(live: Live, roster: Roster) -> None:
    reply = await get(live, "/v1/persons", roster.headers, q=roster.tag, sort="status")
    assert reply.status_code == 200, reply.text
    statuses = {row["case_number"].split("-")[1]: row["status"] for row in reply.json()}
    assert statuses == {
        "cut": "tamper",
        "out": "outside",
        "lost": "silent",
        "quiet": "silent",
        "home": "inside",  # its tamper was refitted, its signal came back, a tamper resolved
        "new": "unknown",
    }
    assert [row["status"] for row in reply.json()] == [
        "tamper", "outside", "silent", "silent", "unknown", "inside"
    ]  # fmt: skip


async def test_each_filter_filters(live: Live, roster: Roster) -> None:
    tag = roster.tag
    assert await names(live, roster, q=tag) == list(PEOPLE)
    assert await names(live, roster, q=f"{tag.lower()}-OU") == ["out"]  # case-insensitive
    assert await names(live, roster, q=f"{tag}-cut") == ["cut"]  # case number
    assert await names(live, roster, q="姓名lo") == ["lost"]  # name
    assert await names(live, roster, q="%") == []  # wildcards are literal
    assert await names(live, roster, q="_") == []
    assert await names(live, roster, q=tag, supervision_level="lenient") == ["lost"]
    both = await names(live, roster, q=tag, supervision_level=["strict", "lenient"])
    assert both == ["out", "lost", "quiet", "home"]
    for status, expected in [
        ("outside", ["out"]),
        ("tamper", ["cut"]),
        ("silent", ["lost", "quiet"]),
        ("inside", ["home"]),
        ("unknown", ["new"]),
    ]:
        assert await names(live, roster, q=tag, status=status) == expected, status
    assert await names(live, roster, q=tag, status=["outside", "tamper"]) == ["out", "cut"]
    assert await names(live, roster, jurisdiction_id=roster.north) == ["out", "cut", "new"]
    assert await names(live, roster, sort="case_number", q=tag) == sorted(PEOPLE)
    assert (await names(live, roster, q=tag, sort="last_fix"))[0] == "new"  # never located


async def test_filters_combine(live: Live, roster: Roster) -> None:
    south = {"jurisdiction_id": roster.south}
    assert await names(live, roster, **south, status="silent") == ["lost", "quiet"]
    assert await names(live, roster, **south, status="silent", supervision_level="strict") == [
        "quiet"
    ]
    assert await names(live, roster, **south, q=f"{roster.tag}-out") == []
    assert await names(live, roster, jurisdiction_id=roster.north, status="inside") == []
    assert await names(live, roster, q=roster.tag, limit=2, offset=1) == ["cut", "lost"]


async def test_a_row_keeps_the_person_and_adds_the_roster(live: Live, roster: Roster) -> None:
    reply = await get(live, "/v1/persons", roster.headers, q=f"{roster.tag}-out")
    (row,) = reply.json()
    alone = await get(live, f"/v1/persons/{roster.ids['out']}", roster.headers)
    assert {k: row[k] for k in alone.json()} == alone.json()  # every PersonOut field, unchanged
    assert row["jurisdiction_name"] == f"north-{roster.tag}"
    assert row["open_alerts"] == 1
    assert datetime.fromisoformat(row["last_fix_at"]) == roster.now - timedelta(minutes=1)
    assert row["device_count"] == 2  # the revoked one is not counted
    assert row["lowest_battery_pct"] == 40.0  # the ankle's latest fix, not its older 90%
    assert datetime.fromisoformat(row["oldest_seen_at"]) == roster.now - timedelta(hours=2)
    devices = {d["device_id"]: d for d in row["devices"]}
    assert set(devices) == {roster.devices["ankle"], roster.devices["phone"]}
    phone = devices[roster.devices["phone"]]
    assert (phone["kind"], phone["battery_pct"], phone["silent"]) == ("phone", 75.0, True)
    assert devices[roster.devices["ankle"]]["silent"] is False
    (cut,) = (await get(live, "/v1/persons", roster.headers, q=f"{roster.tag}-cut")).json()
    assert (cut["device_count"], cut["lowest_battery_pct"], cut["oldest_seen_at"]) == (
        1,
        None,
        None,
    )
    assert cut["devices"][0]["silent"] is True  # never heard in the four days since enrolment


async def device_ids(live: Live, roster: Roster, **params: Any) -> list[str]:
    reply = await get(live, "/v1/devices", roster.headers, **params)
    assert reply.status_code == 200, reply.text
    by_id = {v: k for k, v in roster.devices.items()}
    return [by_id[row["device_id"]] for row in reply.json() if row["device_id"] in by_id]


async def test_the_devices_list_filters(live: Live, roster: Roster) -> None:
    tag = roster.tag
    assert await device_ids(live, roster, q=tag) == ["mute", "ankle", "phone", "old"]  # by case
    assert await device_ids(live, roster, q=f"{tag}-ANK") == ["ankle"]  # device id
    assert await device_ids(live, roster, q=f"{tag}-cut") == ["mute"]  # case number
    assert await device_ids(live, roster, q=tag, kind="wrist") == ["mute", "old"]
    assert await device_ids(live, roster, q=tag, kind=["ankle", "phone"]) == ["ankle", "phone"]
    assert await device_ids(live, roster, q=tag, state="revoked") == ["old"]
    assert await device_ids(live, roster, q=tag, state="active") == ["mute", "ankle", "phone"]
    assert await device_ids(live, roster, q=tag, silent="true") == ["mute", "phone"]
    assert await device_ids(live, roster, q=tag, silent="false") == ["ankle", "old"]
    assert await device_ids(live, roster, jurisdiction_id=roster.south) == []
    north_wrists = await device_ids(live, roster, jurisdiction_id=roster.north, kind="wrist")
    assert north_wrists == ["mute", "old"]
    assert await device_ids(live, roster, q=tag, limit=2, offset=1) == ["ankle", "phone"]
    assert await device_ids(live, roster, q=tag, silent="true", limit=1, offset=1) == ["phone"]


async def test_a_device_row_has_its_latest_fix_and_person(live: Live, roster: Roster) -> None:
    reply = await get(live, "/v1/devices", roster.headers, q=roster.devices["ankle"])
    (row,) = reply.json()
    assert row["case_number"] == f"{roster.tag}-out"
    assert (row["jurisdiction_id"], row["jurisdiction_name"]) == (
        roster.north,
        f"north-{roster.tag}",
    )
    assert (row["kind"], row["battery_pct"], row["tamper"], row["silent"]) == (
        "ankle", 40.0, False, False
    )  # fmt: skip
    assert datetime.fromisoformat(row["last_fix_at"]) == roster.now - timedelta(minutes=1)
    assert "token" not in row or row["token"] is None
    (phone,) = (await get(live, "/v1/devices", roster.headers, q=roster.devices["phone"])).json()
    assert datetime.fromisoformat(phone["last_fix_at"]) == roster.now - timedelta(days=3)  # found
    assert datetime.fromisoformat(phone["last_received_at"]) == roster.now - timedelta(hours=2)


@pytest.mark.parametrize("path", ["/v1/persons", "/v1/devices"])
async def test_unknown_parameters_are_refused_by_name(
    live: Live, officer: Officer, path: str
) -> None:
    reply = await get(live, path, bearer(officer.token), satus="outside", limit=5)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == "satus"
    assert reply.json()["detail"][0]["loc"] == ["query", "satus"]
    assert "limit" in reply.json()["detail"][0]["msg"]  # it says what the route takes


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/persons", {"q": "a\x00b"}, "q"),
        ("/v1/persons", {"q": "x" * 101}, "q"),
        ("/v1/persons", {"jurisdiction_id": 2**63}, "jurisdiction_id"),
        ("/v1/persons", {"jurisdiction_id": 0}, "jurisdiction_id"),
        ("/v1/persons", {"status": ["outside", "gone"]}, "status.1"),
        ("/v1/persons", {"supervision_level": "harsh"}, "supervision_level.0"),
        ("/v1/persons", {"sort": "name"}, "sort"),
        ("/v1/persons", {"offset": 2**63}, "offset"),
        ("/v1/persons", {"limit": 1001}, "limit"),
        ("/v1/devices", {"q": "\x00"}, "q"),
        ("/v1/devices", {"kind": "collar"}, "kind.0"),
        ("/v1/devices", {"state": "lost"}, "state"),
        ("/v1/devices", {"silent": "maybe"}, "silent"),
        ("/v1/devices", {"jurisdiction_id": "1e3"}, "jurisdiction_id"),
    ],
)
async def test_bad_values_are_refused_naming_the_field(
    live: Live, officer: Officer, path: str, params: dict[str, Any], field: str
) -> None:
    reply = await get(live, path, bearer(officer.token), **params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == field


async def test_big_ids_and_offsets_within_bounds_answer(live: Live, roster: Roster) -> None:
    for path in ("/v1/persons", "/v1/devices"):
        far = await get(live, path, roster.headers, offset=2**63 - 1)
        assert (far.status_code, far.json()) == (200, [])
        missing = await get(live, path, roster.headers, jurisdiction_id=2**63 - 1)
        assert missing.status_code == 404, missing.text
        assert missing.json()["field"] == "jurisdiction_id"


async def test_no_list_reaches_past_the_officers_jurisdiction(
    live: Live, officer: Officer, pool: asyncpg.Pool, roster: Roster
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        south = await account(client, officer, roster.south, "officer")
    other = await other_city(live, pool)
    assert await names(live, Roster(**{**roster.__dict__, "headers": south}), q=roster.tag) == [
        "lost", "quiet", "home"
    ]  # fmt: skip
    for headers in (south, other):
        for path in ("/v1/persons", "/v1/devices"):
            out_of_reach = await get(live, path, headers, jurisdiction_id=roster.north)
            missing = await get(live, path, headers, jurisdiction_id=2**62)
            assert out_of_reach.status_code == missing.status_code == 404
            assert out_of_reach.json()["detail"].replace(str(roster.north), "N") == missing.json()[
                "detail"
            ].replace(str(2**62), "N")
    for path, key in (("/v1/persons", "case_number"), ("/v1/devices", "device_id")):
        seen = await get(live, path, other, q=roster.tag, limit=1000)
        assert seen.status_code == 200 and seen.json() == [], seen.text
        everything = await get(live, path, other, limit=1000)
        assert not any(roster.tag in row[key] for row in everything.json())
    south_devices = await get(live, "/v1/devices", south, q=roster.tag)
    assert south_devices.json() == []  # every device of the roster is in the north


async def other_city(live: Live, pool: asyncpg.Pool) -> dict[str, str]:
    """An admin of another city, logged in."""
    suffix = secrets.token_hex(4)
    async with pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name=f"elsewhere-{suffix}", level="city")
        )
        password = await make_admin(conn, city.id, f"elsewhere-{suffix}")
    return bearer(await log_in(live.base_url, f"elsewhere-{suffix}", password))
