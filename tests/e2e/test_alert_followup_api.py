"""Following alerts up (每日跟进): assignment to an officer, follow-up notes, the daily
follow-up mark, the officers list for the pickers; scoped to the officer's subtree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.e2e.conftest import Live, Officer
from tests.e2e.test_alert_triage_api import T0, alert, ids, person
from tests.e2e.test_casework import last_event_id
from tests.e2e.test_registry import account, bearer, district
from tests.e2e.test_slice import receive_until

pytestmark = pytest.mark.slow


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    officer_id: int = (await client.get("/v1/auth/me", headers=headers)).json()["id"]
    return officer_id


@pytest.fixture
async def office(live: Live, officer: Officer, pool: asyncpg.Pool) -> dict[str, Any]:
    """North and south districts, an officer in each, an oversight account at the city; two
    alerts of a north person: one opened long ago (T0), one just now."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        north, south = (
            await district(client, officer, "north"),
            await district(client, officer, "south"),
        )
        zhang = await person(client, officer, north, "Zhang San")
        heads = {
            "admin": bearer(officer.token),
            "north": await account(client, officer, north, "officer"),
            "north2": await account(client, officer, north, "supervisor"),
            "south": await account(client, officer, south, "officer"),
            "oversight": await account(client, officer, officer.jurisdiction_id, "oversight"),
        }
        ids_ = {name: await me(client, h) for name, h in heads.items()}
    async with pool.acquire() as conn:
        old = await alert(conn, zhang, "out_of_area", minutes=0)
        fresh: int = await conn.fetchval(
            "UPDATE alerts SET opened_at = now() WHERE id = $1 RETURNING id",
            await alert(conn, zhang, "signal_lost", minutes=1),
        )
    return {"north": north, "south": south, "zhang": zhang, "h": heads, "id": ids_,
            "old": old, "fresh": fresh}  # fmt: skip


async def assign(
    client: httpx.AsyncClient, headers: dict[str, str], alert_id: int, officer_id: int | None
) -> httpx.Response:
    return await client.post(
        f"/v1/alerts/{alert_id}/assign", headers=headers, json={"officer_id": officer_id}
    )


async def test_assign_lists_mine_and_leaves_history_audit_and_event(
    live: Live, office: dict[str, Any], pool: asyncpg.Pool
) -> None:
    o, h = office, office["h"]
    since = await last_event_id(pool)
    stream = f"{live.ws_url}/v1/stream?token={h['north']['Authorization'][7:]}&since={since}"
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        async with websockets.connect(stream + "&positions=false") as ws:
            taken = await assign(client, h["north"], o["old"], o["id"]["north"])
            heard = await receive_until(ws, {"alert.updated"}, o["zhang"])
        assert taken.status_code == 200, taken.text
        body = taken.json()
        assert body["assigned_to"] == o["id"]["north"] and body["assigned_by"] == o["id"]["north"]
        assert body["assigned_to_name"].startswith("officer-") and body["assigned_at"]
        event = next(m for m in heard if m["type"] == "alert.updated")
        assert event["alert"]["assigned_to"] == o["id"]["north"]
        assert event["action"] == "assign"

        mine = await client.get("/v1/alerts", headers=h["north"], params={"assigned_to": "me"})
        assert ids(mine) == [o["old"]]
        by_id = {"assigned_to": str(o["id"]["north"])}
        assert ids(await client.get("/v1/alerts", headers=h["admin"], params=by_id)) == [o["old"]]
        nobodys = await client.get("/v1/alerts", headers=h["north"], params={"assigned_to": "none"})
        assert ids(nobodys) == [o["fresh"]]
        for bad in ("nobody", "0", str(2**63)):
            reply = await client.get("/v1/alerts", headers=h["north"], params={"assigned_to": bad})
            assert reply.status_code == 422 and reply.json()["field"] == "assigned_to", bad

        # handed to a colleague of the same office, then taken off everyone
        handed = await assign(client, h["north"], o["old"], o["id"]["north2"])
        assert handed.json()["assigned_to"] == o["id"]["north2"]
        dropped = await assign(client, h["north2"], o["old"], None)
        assert dropped.status_code == 200 and dropped.json()["assigned_to"] is None
        actions = (await client.get(f"/v1/alerts/{o['old']}/actions", headers=h["north"])).json()
    assert [(a["action"], a["assigned_to"]) for a in actions] == [
        ("assign", o["id"]["north"]), ("assign", o["id"]["north2"]), ("unassign", None)
    ]  # fmt: skip
    async with pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT action, details FROM audit_log WHERE subject = $1 AND action LIKE 'alert.%' "
            "ORDER BY id",
            f"alert:{o['old']}",
        )
    assert [(r["action"], r["details"]["assigned_to"]) for r in audited] == [
        ("alert.assign", o["id"]["north"]), ("alert.assign", o["id"]["north2"]),
        ("alert.unassign", None),
    ]  # fmt: skip


async def test_the_assignee_must_be_reachable_active_and_see_the_alert(
    live: Live, office: dict[str, Any], pool: asyncpg.Pool
) -> None:
    o, h = office, office["h"]
    async with pool.acquire() as conn:
        missing = await conn.fetchval("SELECT max(id) + 1000 FROM officers")
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        admin_id = await me(client, h["admin"])
        refused = {
            "another office's officer, out of the assigner's reach": (
                h["north"], o["id"]["south"]),
            "an officer above the assigner": (h["north"], admin_id),
            "no such officer": (h["north"], missing),
            "cannot see the alert": (h["admin"], o["id"]["south"]),
            "oversight reads only": (h["admin"], o["id"]["oversight"]),
        }  # fmt: skip
        for why, (headers, officer_id) in refused.items():
            reply = await assign(client, headers, o["old"], officer_id)
            assert reply.status_code == 422, why
            assert reply.json()["field"] == "officer_id", why
        same = [
            (await assign(client, h["north"], o["old"], officer_id)).text.replace(
                str(officer_id), "N"
            )
            for officer_id in (o["id"]["south"], missing)
        ]
        assert same[0] == same[1], "an officer out of reach answers as a missing one"

        # the city's admin may take a north alert (the city sees it), and give it down
        assert (await assign(client, h["admin"], o["old"], admin_id)).status_code == 200
        assert (await assign(client, h["admin"], o["old"], o["id"]["north"])).status_code == 200
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE officers SET disabled = true WHERE id = $1", o["id"]["north2"]
            )
        disabled = await assign(client, h["admin"], o["old"], o["id"]["north2"])
        assert disabled.status_code == 422 and "disabled" in disabled.text

        for body in ({"officer_id": 1, "note": "x"}, {}, {"officer_id": 2**63}):
            reply = await client.post(
                f"/v1/alerts/{o['old']}/assign", headers=h["north"], json=body
            )
            assert reply.status_code == 422, body
        unknown = await client.post(
            f"/v1/alerts/{o['old']}/assign", headers=h["north"], json={"officer": 1}
        )
        issues = {(i["loc"][-1], i["type"]) for i in unknown.json()["detail"]}
        assert ("officer", "extra_forbidden") in issues


async def test_other_offices_get_404_and_oversight_only_reads(
    live: Live, office: dict[str, Any]
) -> None:
    o, h = office, office["h"]
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        south = h["south"]
        assert (await assign(client, south, o["old"], o["id"]["south"])).status_code == 404
        note = {"body": "visited"}
        posted = await client.post(f"/v1/alerts/{o['old']}/notes", headers=south, json=note)
        assert posted.status_code == 404
        assert (await client.get(f"/v1/alerts/{o['old']}/notes", headers=south)).status_code == 404

        watch = h["oversight"]
        assert (await assign(client, watch, o["old"], o["id"]["north"])).status_code == 403
        written = await client.post(f"/v1/alerts/{o['old']}/notes", headers=watch, json=note)
        assert written.status_code == 403
        assert (await client.get(f"/v1/alerts/{o['old']}/notes", headers=watch)).json() == []


async def test_notes_oldest_first_paged_counted_and_bounded(
    live: Live, office: dict[str, Any]
) -> None:
    o, h = office, office["h"]
    url = f"/v1/alerts/{o['old']}/notes"
    async with httpx.AsyncClient(base_url=live.base_url, headers=h["north"]) as client:
        for text in ("phoned him: at his sister's", "每日跟进：已返回居住地"):
            made = await client.post(url, json={"body": text})
            assert made.status_code == 201, made.text
        notes = (await client.get(url)).json()
        assert [n["body"] for n in notes] == [
            "phoned him: at his sister's",
            "每日跟进：已返回居住地",
        ]
        assert {n["officer_id"] for n in notes} == {o["id"]["north"]}
        page = (await client.get(url, params={"limit": 1, "offset": 1})).json()
        assert [n["id"] for n in page] == [notes[1]["id"]]
        got = (await client.get(f"/v1/alerts/{o['old']}")).json()
        assert got["notes_count"] == 2
        assert datetime.fromisoformat(got["last_note_at"]) == datetime.fromisoformat(
            notes[1]["created_at"]
        )
        actions = (await client.get(f"/v1/alerts/{o['old']}/actions")).json()
        assert [(a["action"], a["note_id"]) for a in actions] == [
            ("note", notes[0]["id"]), ("note", notes[1]["id"])
        ]  # fmt: skip

        for body, field in (
            ({"body": "a\x00b"}, "body"),
            ({"body": "x" * 2001}, "body"),
            ({"body": "  \n "}, "body"),
            ({"body": "ok", "officer_id": 1}, "officer_id"),
        ):
            reply = await client.post(url, json=body)
            assert reply.status_code == 422 and reply.json()["field"] == field, body
        assert (await client.post(url, json={"body": "x" * 2000})).status_code == 201
        unknown = await client.get(url, params={"order": "newest"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "order"


async def test_daily_followup_is_due_after_a_day_without_a_note(
    live: Live, office: dict[str, Any]
) -> None:
    o, h = office, office["h"]
    async with httpx.AsyncClient(base_url=live.base_url, headers=h["north"]) as client:

        async def due() -> list[int]:
            return ids(await client.get("/v1/alerts", params={"followup_due": "true"}))

        rows = {r["id"]: r for r in (await client.get("/v1/alerts")).json()}
        assert rows[o["old"]]["followup_due"] is True
        assert datetime.fromisoformat(rows[o["old"]]["followup_due_at"]) == T0 + timedelta(days=1)
        fresh_due_at = datetime.fromisoformat(rows[o["fresh"]]["followup_due_at"])
        assert rows[o["fresh"]]["followup_due"] is False
        assert fresh_due_at > datetime.now(UTC) + timedelta(hours=23)
        assert await due() == [o["old"]]
        not_due = await client.get("/v1/alerts", params={"followup_due": "false"})
        assert ids(not_due) == [o["fresh"]]

        await client.post(f"/v1/alerts/{o['old']}/notes", json={"body": "visited at home"})
        assert await due() == []
        got = (await client.get(f"/v1/alerts/{o['old']}")).json()
        assert got["followup_due"] is False
        assert datetime.fromisoformat(got["followup_due_at"]) == datetime.fromisoformat(
            got["last_note_at"]
        ) + timedelta(days=1)

        # resolved: never due, not assigned again (409), follow-up notes still kept
        resolved = await client.post(
            f"/v1/alerts/{o['fresh']}/resolve", json={"disposition": "verbal_reminder"}
        )
        assert resolved.json()["followup_due"] is False
        assert resolved.json()["followup_due_at"] is None
        late = await assign(client, h["north"], o["fresh"], o["id"]["north"])
        assert late.status_code == 409 and "resolved" in late.text
        after = await client.post(f"/v1/alerts/{o['fresh']}/notes", json={"body": "warned"})
        assert after.status_code == 201


async def test_officers_list_within_reach_and_who_may_take_an_alert(
    live: Live, office: dict[str, Any], pool: asyncpg.Pool
) -> None:
    o, h = office, office["h"]
    async with httpx.AsyncClient(base_url=live.base_url) as client:

        async def listed(headers: dict[str, str], **params: Any) -> set[int]:
            reply = await client.get("/v1/officers", headers=headers, params=params)
            assert reply.status_code == 200, reply.text
            return {r["id"] for r in reply.json()}

        everyone = set(o["id"].values())
        assert await listed(h["admin"]) == everyone
        north = {o["id"]["north"], o["id"]["north2"]}
        assert await listed(h["north"]) == north
        assert await listed(h["admin"], jurisdiction_id=o["south"]) == {o["id"]["south"]}
        assert await listed(h["admin"], role="oversight") == {o["id"]["oversight"]}
        takers = await listed(h["admin"], alert_id=o["old"])
        assert takers == {o["id"]["admin"], *north}, "not south, not oversight"
        rows = (await client.get("/v1/officers", headers=h["north"])).json()
        assert {r["jurisdiction_name"] for r in rows} == {"north"}
        assert {"id", "username", "display_name", "role", "jurisdiction_id", "active"} <= set(
            rows[0]
        )
        username = next(r["username"] for r in rows if r["id"] == o["id"]["north2"])
        assert await listed(h["north"], q=username.upper()) == {o["id"]["north2"]}

        for params, field in (
            ({"jurisdiction_id": o["south"]}, "jurisdiction_id"),
            ({"alert_id": o["old"] + 10_000}, "alert_id"),
            ({"q": "a\x00"}, "q"),
            ({"rank": "1"}, "rank"),
        ):
            reply = await client.get("/v1/officers", headers=h["north"], params=params)
            assert reply.status_code == 422 and reply.json()["field"] == field, params
        south_sees = await client.get(
            "/v1/officers", headers=h["south"], params={"alert_id": o["old"]}
        )
        assert south_sees.status_code == 422
