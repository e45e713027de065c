"""Schemathesis over the whole /openapi.json of a live server: no input gets a 5xx (503 aside,
which is documented), and every answer has a documented status, content type and body.

The server has a database and a Redis db of its own: the fuzzer creates jurisdictions,
officers, persons and fences that other tests in the session must not see. It runs the
schemathesis CLI, the tool a reader reproduces a failure with (`st replay`, or the curl
command it prints), with a fixed seed so that CI runs the same cases every time; set
MONITOR_FUZZ_SEED and MONITOR_FUZZ_EXAMPLES to explore further by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.registry import schemas
from monitor.registry import store as registry_store
from tests.conftest import db_pool, flushed, fresh_database, redis_db
from tests.e2e.conftest import Live, log_in, make_admin, running, settings_for

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MONITOR_FUZZ_SEED", "20261206"))
MAX_EXAMPLES = int(os.environ.get("MONITOR_FUZZ_EXAMPLES", "25"))
REDIS_OFFSET = 13  # a Redis db no other test of the session uses
RUN_TIMEOUT_S = 600

# what the checks below leave out, and why:
# - positive_data_acceptance: a schema cannot say "an IANA time zone", "a fence you can see"
#   or "a valid polygon", so valid-looking bodies are rightly refused with 4xx
# - negative_data_rejection: pydantic's lax mode takes 1 for true and "5" for 5, on purpose
# - use_after_free, ensure_resource_availability: stateful (links between operations)
SKIPPED_CHECKS = (
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
)

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[113.9, 22.5], [114.1, 22.5], [114.1, 22.6], [113.9, 22.6], [113.9, 22.5]]],
}


@pytest.fixture(scope="module")
async def fuzzed(server_urls: tuple[str, str]) -> AsyncIterator[Live]:
    redis_url = redis_db(server_urls[1], REDIS_OFFSET)
    async with (
        fresh_database(server_urls[0]) as url,
        flushed(redis_url),
        running(settings_for(url, redis_url)) as live,
    ):
        yield live


async def admin_tokens(live: Live, count: int) -> list[str]:
    """An admin of a new city, logged in `count` times (one session per token)."""
    assert live.settings.database_url is not None
    async with db_pool(live.settings.database_url) as pool, pool.acquire() as conn:
        city = await registry_store.insert_jurisdiction(
            conn, data=schemas.JurisdictionIn(name="fuzz city", level="city")
        )
        password = await make_admin(conn, city.id, "fuzz-admin")
    return [await log_in(live.base_url, "fuzz-admin", password) for _ in range(count)]


async def enrolled_device(live: Live, admin: str) -> tuple[str, str]:
    """(device id, token) of a device of a person with a fence: the device routes get past
    authentication, where the fuzzer's inputs matter."""
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=live.base_url, headers=headers) as client:
        fence = await client.post(
            "/v1/fences", json={"name": "home", "role": "allowed", "geometry": SQUARE}
        )
        fence.raise_for_status()
        person = await client.post(
            "/v1/persons",
            json={
                "case_number": "FUZZ-1",
                "supervision_level": "normal",
                "allowed_fence_ids": [fence.json()["id"]],
            },
        )
        person.raise_for_status()
        device = await client.post(
            "/v1/devices", json={"person_id": person.json()["id"], "kind": "phone"}
        )
        device.raise_for_status()
    return device.json()["device_id"], device.json()["token"]


def toml_value(value: Any) -> str:
    """TOML for strings, numbers, booleans, lists and inline tables (JSON's string escapes
    are TOML's)."""
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def config_text(*, admin: str, logout: str, device_id: str, device_token: str) -> str:
    basic = base64.b64encode(f"{device_id}:{device_token}".encode()).decode()
    lines = [
        f"seed = {SEED}",
        "continue-on-failure = true",
        "workers = 1",
        f"headers = {toml_value({'Authorization': f'Bearer {admin}'})}",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "database = 'none'",
        "[phases]",
        "stateful = { enabled = false }",
        "[checks]",
        # 503 is documented: overload or a database outage, with Retry-After
        "not_a_server_error = { expected-statuses = ['2xx', '3xx', '4xx', '503'] }",
        *(f"{name} = {{ enabled = false }}" for name in SKIPPED_CHECKS),
    ]
    operations: list[dict[str, Any]] = [
        # the device routes, each with the credential its protocol carries
        {"include-path": "/v1/pings", "headers": {"Authorization": f"Bearer {device_token}"}},
        {"include-path": "/owntracks", "headers": {"Authorization": f"Basic {basic}"}},
        {"include-path": "/osmand/{token}", "parameters": {"token": device_token}},
        # a session of its own: the first logout ends it, the rest must answer 401
        {"include-path": "/v1/auth/logout", "headers": {"Authorization": f"Bearer {logout}"}},
    ]
    for operation in operations:
        lines.append("[[operations]]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in operation.items())
    return "\n".join(lines) + "\n"


async def run_schemathesis(config: Path, url: str) -> tuple[int, str]:
    """Exit status and output of `st run`, in the config's folder (where it keeps a cache)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        "--no-color",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=config.parent,
    )
    output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_no_input_gets_a_server_error_and_every_answer_is_documented(
    fuzzed: Live, tmp_path: Path
) -> None:
    admin, logout = await admin_tokens(fuzzed, 2)
    device_id, device_token = await enrolled_device(fuzzed, admin)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        config_text(admin=admin, logout=logout, device_id=device_id, device_token=device_token)
    )
    code, output = await run_schemathesis(config, f"{fuzzed.base_url}/openapi.json")
    print(output)  # pytest shows it when the test fails: every failure with its curl command
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert selected is not None, output[-4000:]
    assert len(set(selected.groups())) == 1, f"not every operation was tested: {selected[0]}"
    assert code == 0, output[output.find("=== SUMMARY") :]
