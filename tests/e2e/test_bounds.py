"""Inputs PostgreSQL cannot store get a 4xx naming the field, never a 500: ids beyond bigint,
counts beyond integer, NUL in text, JSON beyond jsonb, instants beyond timestamptz."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from monitor.error_responses import ErrorOut
from tests.e2e.conftest import Live, Officer
from tests.e2e.test_slice import CENTRE, enrol

pytestmark = pytest.mark.slow

TOO_BIG = 2**63  # one past bigint
NUL = "a\x00b"
NOW = "2026-06-01T08:00:00+08:00"
LATER = "2026-06-02T08:00:00+08:00"


@contextlib.asynccontextmanager
async def client_of(live: Live, officer: Officer) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {officer.token}"}
    async with httpx.AsyncClient(base_url=live.base_url, headers=headers) as client:
        yield client


def refused(reply: httpx.Response, field: str, status: int = 422) -> ErrorOut:
    """The answer is `status`, in the documented error shape, naming `field`."""
    assert reply.status_code == status, reply.text
    error = ErrorOut.model_validate(reply.json())
    assert error.field == field, reply.text
    return error


async def person(client: httpx.AsyncClient, officer: Officer) -> int:
    """A person with a fence, an order and a device, in the officer's city."""
    device = await enrol(client, officer, f"bounds-{time.monotonic_ns()}")
    return device.person_id


async def test_ids_beyond_bigint_are_refused_naming_the_field(live: Live, officer: Officer) -> None:
    async with client_of(live, officer) as client:
        pid = await person(client, officer)
        cases: list[tuple[str, str, dict[str, Any], str]] = [
            ("GET", f"/v1/persons/{TOO_BIG}", {}, "person_id"),
            ("GET", f"/v1/fences/{TOO_BIG}", {}, "fence_id"),
            ("GET", f"/v1/alerts/{TOO_BIG}/actions", {}, "alert_id"),
            ("GET", f"/v1/persons/{TOO_BIG}/track", {}, "person_id"),
            ("GET", "/v1/alerts", {"params": {"person_id": TOO_BIG}}, "person_id"),
            ("GET", "/v1/persons", {"params": {"offset": TOO_BIG}}, "offset"),
            ("DELETE", f"/v1/persons/{pid}/rules/{TOO_BIG}", {}, "rule_id"),
            ("POST", f"/v1/persons/{pid}/permits/{TOO_BIG}/cancel", {}, "permit_id"),
            ("POST", "/v1/devices", {"json": {"person_id": TOO_BIG, "kind": "ankle"}}, "person_id"),
            (
                "POST",
                "/v1/persons",
                {
                    "json": {
                        "case_number": "x",
                        "supervision_level": "normal",
                        "allowed_fence_ids": [1, TOO_BIG],
                    }
                },
                "allowed_fence_ids.1",
            ),
            (
                "POST",
                "/v1/jurisdictions",
                {"json": {"name": "d", "level": "district", "parent_id": TOO_BIG}},
                "parent_id",
            ),
            (
                "POST",
                "/v1/officers",
                {
                    "json": {
                        "username": "u",
                        "password": "long enough",
                        "role": "officer",
                        "jurisdiction_id": TOO_BIG,
                    }
                },
                "jurisdiction_id",
            ),
            (
                "POST",
                "/v1/devices",
                {"json": {"person_id": pid, "kind": "ankle", "expected_interval_s": 2**31}},
                "expected_interval_s",
            ),
        ]
        for method, path, kwargs, field in cases:
            refused(await client.request(method, path, **kwargs), field)


async def test_nul_in_any_text_field_is_refused_naming_the_field(
    live: Live, officer: Officer
) -> None:
    async with client_of(live, officer) as client:
        pid = await person(client, officer)
        fences = (await client.get("/v1/fences")).json()
        geometry = {
            "type": "Polygon",
            "coordinates": [[[114, 22], [114.1, 22], [114, 22.1], [114, 22]]],
        }
        person_body = {
            "case_number": "n",
            "supervision_level": "normal",
            "allowed_fence_ids": [fences[0]["id"]],
        }
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("/v1/jurisdictions", {"name": NUL, "level": "district"}, "name"),
            ("/v1/jurisdictions", {"name": "d", "level": "district", "code": NUL}, "code"),
            ("/v1/persons", {**person_body, "case_number": NUL}, "case_number"),
            ("/v1/persons", {**person_body, "full_name": NUL}, "full_name"),
            ("/v1/persons", {**person_body, "timezone": NUL}, "timezone"),
            ("/v1/devices", {"person_id": pid, "kind": "ankle", "device_id": NUL}, "device_id"),
            ("/v1/fences", {"name": NUL, "role": "allowed", "geometry": geometry}, "name"),
            (
                "/v1/fences",
                {
                    "name": "f",
                    "role": "allowed",
                    "geometry": geometry,
                    "properties": {"deep": [{"note": NUL}]},
                },
                "properties",
            ),
            (
                "/v1/officers",
                {
                    "username": NUL,
                    "password": "long enough",
                    "role": "officer",
                    "jurisdiction_id": officer.jurisdiction_id,
                },
                "username",
            ),
            (
                f"/v1/persons/{pid}/permits",
                {"starts_at": NOW, "ends_at": LATER, "destination": NUL},
                "destination",
            ),
            (
                f"/v1/persons/{pid}/rules",
                {
                    "kind": "suspension",
                    "params": {"starts_at": NOW, "ends_at": LATER, "types": [NUL]},
                },
                "params",
            ),
        ]
        for path, body, field in cases:
            error = refused(await client.post(path, json=body), field)
            assert "NUL" in str(error.detail), path
        refused(await client.get("/v1/alerts", params={"type": NUL}), "type.0")
        refused(await client.post("/v1/devices/a%00b/rotate"), "device_id")


async def test_instants_beyond_timestamptz_are_refused_and_a_track_runs_forwards(
    live: Live, officer: Officer
) -> None:
    async with client_of(live, officer) as client:
        pid = await person(client, officer)
        track = f"/v1/persons/{pid}/track"
        for params, field in [
            ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
            ({"start": "0001-01-01T00:00:00+08:00"}, "start"),
            ({"end": "9999-12-31T23:59:59-14:00"}, "end"),
            ({"start": "2026-01-01T00:00:00"}, "start"),  # no offset: which day?
        ]:
            refused(await client.get(track, params=params), field)
        backwards = refused(await client.get(track, params={"start": LATER, "end": NOW}), "start")
        assert "must not be after end" in str(backwards.detail)
        first_day = await client.get(track, params={"end": "0001-01-01T12:00:00Z"})
        assert first_day.status_code == 200, first_day.text
        order = {
            "kind": "information_check",
            "basis": "supervision_term",
            "approved_by": "bureau",
            "starts_at": "0001-01-01T00:00:00+14:00",
            "ends_at": LATER,
        }
        orders = f"/v1/persons/{pid}/orders"
        refused(await client.post(orders, json=order), "starts_at")
        today = datetime.now(UTC).isoformat()
        endless = {**order, "starts_at": today, "ends_at": "9999-12-31T23:59:59-14:00"}
        refused(await client.post(orders, json=endless), "ends_at")
        permit = {"starts_at": NOW, "ends_at": "9999-12-31T23:59:59-14:00"}
        refused(await client.post(f"/v1/persons/{pid}/permits", json=permit), "ends_at")
        rule = {
            "kind": "suspension",
            "params": {"starts_at": "0001-01-01T00:00:00+14:00", "ends_at": LATER},
        }
        refused(await client.post(f"/v1/persons/{pid}/rules", json=rule), "params.starts_at")


async def test_rule_parameters_beyond_what_is_stored_are_refused(
    live: Live, officer: Officer
) -> None:
    async with client_of(live, officer) as client:
        rules = f"/v1/persons/{await person(client, officer)}/rules"
        for params, field in [
            ({"exit_pings": 2**31}, "params.exit_pings"),
            ({"exit_min_s": 2**64}, "params"),  # beyond what jsonb is given at all
        ]:
            body = {"kind": "thresholds", "params": params}
            refused(await client.post(rules, json=body), field)
        curfew = {"fence_id": TOO_BIG, "start": "22:00", "end": "06:00"}
        refused(await client.post(rules, json={"kind": "curfew", "params": curfew}), "params")


async def test_a_taken_jurisdiction_code_is_a_conflict_naming_code(
    live: Live, officer: Officer
) -> None:
    code = f"440{time.monotonic_ns()}"
    body = {"name": "Futian", "level": "district", "parent_id": officer.jurisdiction_id}
    async with client_of(live, officer) as client:
        first = await client.post("/v1/jurisdictions", json={**body, "code": code})
        assert first.status_code == 201, first.text
        again = await client.post("/v1/jurisdictions", json={**body, "code": code})
        assert code in str(refused(again, "code", status=409).detail)


async def test_a_device_field_with_nul_is_refused_alone(live: Live, officer: Officer) -> None:
    """jsonb refuses \\u0000: before, one such ping failed its whole request (422) and, in a
    shared flush, other devices' pings with it."""
    async with client_of(live, officer) as client:
        device = await enrol(client, officer, f"nul-{time.monotonic_ns()}")
    now_ms = int(time.time() * 1000)
    ping = {"ts": now_ms, "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10.0}
    batch = [{**ping, "attrs": {"note": NUL}}, {**ping, "ts": now_ms - 1000}]
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        reply = await client.post(
            "/v1/pings", json=batch, headers={"Authorization": f"Bearer {device.token}"}
        )
        assert reply.status_code == 202, reply.text
        assert reply.json()["accepted"] == 1
        [rejected] = reply.json()["rejected"]
        assert rejected["index"] == 0 and rejected["error"].startswith("attrs.note: ")
        osmand = await client.get("/osmand", params={"id": NUL, "lat": 22.5, "lon": 114.0})
        assert osmand.status_code == 400 and "NUL" in osmand.text


async def test_a_resume_point_beyond_bigint_is_refused_at_the_handshake(
    live: Live, officer: Officer
) -> None:
    """It reached the hub's query: the socket was dropped without a close frame."""
    url = f"{live.ws_url}/v1/stream?token={officer.token}&since={2**70}"
    with pytest.raises(InvalidStatus) as refusal:
        async with websockets.connect(url) as socket:
            await asyncio.wait_for(socket.recv(), 10)
    assert refusal.value.response.status_code == 403
