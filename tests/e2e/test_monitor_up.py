"""`monitor up --demo` on a machine with no database settings: embedded servers, demo, alerts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import free_port

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 120.0


@pytest.fixture
def monitor_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "MONITOR_DATABASE_URL", "MONITOR_REDIS_URL")
    }
    log = (tmp_path / "monitor.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "up",
            "--demo",
            "--persons",
            "40",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    try:
        yield process, f"127.0.0.1:{port}", tmp_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def read(path: Path) -> str:
    return path.read_text(errors="replace")


def tail(log: Path) -> str:
    return read(log)[-3000:]


async def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, tail(log)
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError("monitor up never became ready:\n" + tail(log))


async def test_up_demo_starts_embedded_servers_and_raises_alerts(
    monitor_up: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, host, tmp = monitor_up
    await wait_ready(f"http://{host}", process, tmp / "monitor.log")
    credentials = json.loads(read(tmp / "data" / "demo-credentials.json"))
    assert set(credentials) == {"officer", "devices"} and len(credentials["devices"]) == 40
    assert {"device_id", "token", "person_id"} <= set(credentials["devices"][0])
    officer = credentials["officer"]
    async with httpx.AsyncClient(base_url=f"http://{host}") as client:
        token = (await client.post("/v1/auth/token", data=officer)).json()["access_token"]
        assert (await client.get("/docs")).status_code == 200
        console = await client.get("/", follow_redirects=True)
        assert console.status_code == 200 and "login-form" in console.text
    wanted = {"out_of_area", "exclusion_zone"}  # a wanderer and a trespasser, within minutes
    async with websockets.connect(f"ws://{host}/v1/stream?token={token}&positions=false") as ws:
        while wanted:
            message = json.loads(await asyncio.wait_for(ws.recv(), 150))
            if message["type"] == "alert.opened":
                wanted.discard(message["alert"]["type"])
    output = read(tmp / "monitor.log")
    assert f"Console: http://{host}/console/" in output and officer["password"] in output
    # the fleet posted every 5 s meanwhile (the alerts above came of it), without a log line
    per_request = [line for line in output.splitlines() if "/v1/pings" in line]
    assert per_request == [], per_request[:3]
    # the socket above was logged, its token was not; the credentials are the owner's alone
    assert "/v1/stream?token=[redacted]" in output and token not in output
    assert stat.S_IMODE((tmp / "data" / "demo-credentials.json").stat().st_mode) == 0o600

    # Ctrl-C in a terminal: SIGINT to the whole process group, embedded servers included
    stopping_at = len(read(tmp / "monitor.log"))
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(60) == 0 or process.returncode in (-signal.SIGINT, 130)
    stopping = read(tmp / "monitor.log")[stopping_at:]
    assert "Traceback" not in stopping and " ERROR " not in stopping, stopping[-3000:]
    assert not (tmp / "data" / "postgres" / "postmaster.pid").exists(), "PostgreSQL left running"
