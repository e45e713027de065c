"""monitor.embedded: real PostgreSQL and Redis servers, data reused across starts and crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from monitor.embedded import EmbeddedError, EmbeddedServices, ServiceUrls

pytestmark = pytest.mark.slow

CRASHING_RUN = """
import os, signal, sys
from pathlib import Path
from monitor.embedded import EmbeddedServices
EmbeddedServices(Path(sys.argv[1])).start()
os.kill(os.getpid(), signal.SIGKILL)
"""


def postmaster_pid(data: Path) -> int:
    return int((data / "postgres" / "postmaster.pid").read_text().split()[0])


def redis_pid(data: Path) -> int:
    return int((data / "redis" / "redis.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    """Running, not a zombie its new parent has yet to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


async def write_both(urls: ServiceUrls) -> None:
    conn = await asyncpg.connect(urls.database_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert conn.get_server_version().major == 18
        assert await conn.fetchval("SELECT current_database()") == "monitor"
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    finally:
        await conn.close()
    client = aioredis.from_url(urls.redis_url)
    try:
        await client.xadd("kept", {"n": "7"}, id="1-1")
    finally:
        await client.aclose()


async def assert_both_kept(urls: ServiceUrls) -> None:
    conn = await asyncpg.connect(urls.database_url)
    try:
        assert await conn.fetchval("SELECT n FROM kept") == 7
    finally:
        await conn.close()
    client = aioredis.from_url(urls.redis_url)
    try:
        assert await client.xrange("kept") == [(b"1-1", {b"n": b"7"})]
    finally:
        await client.aclose()


async def test_start_use_stop_and_reuse(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbeddedServices(data) as urls:
        await write_both(urls)
    assert not (data / "postgres" / "postmaster.pid").exists()
    assert not (data / "redis" / "redis.pid").exists()

    services = EmbeddedServices(data)
    again = services.start()
    try:
        assert services.start() == again
        assert again.database_url == urls.database_url, "the socket dir is the same"
        await assert_both_kept(again)
    finally:
        services.stop()
    services.stop()  # safe twice


@pytest.mark.parametrize("pid_file", ["left behind", "naming a reused pid"])
async def test_restarts_after_the_postmaster_was_killed(tmp_path: Path, pid_file: str) -> None:
    data = tmp_path / "data"
    services = EmbeddedServices(data)
    await write_both(services.start())
    kill_and_wait(postmaster_pid(data))
    if pid_file == "naming a reused pid":  # the pid now belongs to a live process, not postgres
        lines = (data / "postgres" / "postmaster.pid").read_text().splitlines()
        text = "\n".join([str(os.getpid()), *lines[1:]]) + "\n"
        (data / "postgres" / "postmaster.pid").write_text(text)
    urls = services.start()  # idempotent start notices the dead server
    try:
        await assert_both_kept(urls)
    finally:
        services.stop()


async def test_a_run_killed_with_its_servers_left_running(tmp_path: Path) -> None:
    """The postmaster it left is adopted as it is; its orphaned redis-server is stopped first,
    as two of them would write the same append-only file."""
    data = tmp_path / "data"
    with EmbeddedServices(data) as urls:
        await write_both(urls)
    crash = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING_RUN, str(data))
    assert await crash.wait() == -signal.SIGKILL
    left_postmaster, orphan_redis = postmaster_pid(data), redis_pid(data)
    assert alive(left_postmaster) and alive(orphan_redis)

    with EmbeddedServices(data) as urls:
        await assert_both_kept(urls)
        assert postmaster_pid(data) == left_postmaster
        assert redis_pid(data) != orphan_redis
        assert not alive(orphan_redis)
    assert not alive(left_postmaster), "stop() stops an adopted server too"


def test_a_redis_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True)
    (data / "redis" / "appendonly.aof").write_text("this is not an append-only file\n")
    services = EmbeddedServices(data)
    with pytest.raises(EmbeddedError, match=r"(?s)Redis.*log ends.*append"):
        services.start()
    assert not (data / "postgres" / "postmaster.pid").exists(), "PostgreSQL is stopped again"


def test_a_postgres_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    only_postgres = EmbeddedServices(data)  # as the fault tests use it
    assert only_postgres.start_postgres().startswith("postgresql://postgres@/monitor?host=/")
    only_postgres.stop_postgres()
    (data / "postgres" / "PG_VERSION").write_text("9\n")
    with pytest.raises(EmbeddedError, match=r"(?s)PostgreSQL.*log ends.*incompatible"):
        EmbeddedServices(data).start()


def test_folders_that_would_be_opened_to_everyone_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor.embedded import warn_about_widened_folders, widened_folders

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    expected = [private] if os.geteuid() == 0 else []
    assert [p for p in widened_folders(private / "data" / "postgres") if p == private] == expected
    with caplog.at_level("WARNING", logger="monitor.embedded"):
        warn_about_widened_folders(private / "data" / "postgres")
    assert (str(private) in caplog.text) == bool(expected)
