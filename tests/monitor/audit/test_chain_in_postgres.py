"""The audit chain in PostgreSQL (migrations/0014): hashed the same in any session time zone,
linear under concurrent writers, never truncated, re-hashed once by the migration, and held to
the anchors written outside the database. Each test that tampers gets a database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from alerts.store import audit
from monitor import db
from monitor.audit import anchors
from monitor.audit.verify import verify
from monitor.cli import app
from tests.conftest import flushed, fresh_database, redis_db, with_database

TRICKY = ["read_track", 'quote " back \\ slash', "new\nline\ttab\x01\x1f", "深圳 é ☃ \U0001f600"]


@pytest.fixture
async def own_db(server_urls: tuple[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A fresh, migrated database for one test that may tamper with its audit log."""
    async with fresh_database(server_urls[0]) as url:
        conn = await db.connect(url)
        try:
            yield conn
        finally:
            await conn.close()


async def write_rows(conn: asyncpg.Connection, n: int, *, time_zone: str = "UTC") -> None:
    await conn.execute(f"SET TimeZone = '{time_zone}'")
    await conn.execute("SET DateStyle = 'SQL, DMY'")
    for i in range(n):
        text = TRICKY[i % len(TRICKY)]
        details = {"n": i, "text": text, "nested": {"b": [1, 2.5, None], "a": True}}
        await audit(conn, officer_id=None, action=text, subject=f"person:{i}", details=details)
    await conn.execute("RESET TimeZone; RESET DateStyle")


async def test_the_hash_is_the_same_in_every_session_time_zone(own_db: asyncpg.Connection) -> None:
    for zone in ("UTC", "Pacific/Kiritimati", "America/St_Johns"):
        await write_rows(own_db, 4, time_zone=zone)
    for zone in ("Asia/Shanghai", "Pacific/Pago_Pago"):
        await own_db.execute(f"SET TimeZone = '{zone}'")
        verdict = await verify(own_db, [])
        assert verdict.ok, verdict.broken
        assert verdict.rows == 12


async def test_truncate_is_refused(own_db: asyncpg.Connection) -> None:
    await write_rows(own_db, 1)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await own_db.execute("TRUNCATE audit_log")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await own_db.execute("DELETE FROM audit_log")
    assert await own_db.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_a_writer_in_an_older_snapshot_cannot_fork_the_chain(
    own_db: asyncpg.Connection, server_urls: tuple[str, str]
) -> None:
    """A REPEATABLE READ transaction that took its snapshot before another writer committed
    read the old head and chained to it too (two rows, one predecessor); now it fails."""
    url = with_database(server_urls[0], await own_db.fetchval("SELECT current_database()"))
    late = await db.connect(url)
    try:
        await write_rows(own_db, 1)
        tx = late.transaction(isolation="repeatable_read")
        await tx.start()
        await late.fetchval("SELECT count(*) FROM audit_log")  # the snapshot is taken here
        await write_rows(own_db, 1)
        with pytest.raises(asyncpg.SerializationError):
            await audit(late, officer_id=None, action="late", subject="s", details={})
        await tx.rollback()
    finally:
        await late.close()
    verdict = await verify(own_db, [])
    assert verdict.ok and verdict.rows == 2, verdict


async def test_concurrent_writers_make_one_linear_chain(
    own_db: asyncpg.Connection, server_urls: tuple[str, str]
) -> None:
    url = with_database(server_urls[0], await own_db.fetchval("SELECT current_database()"))
    pool = await db.create_pool(url, min_size=6, max_size=6)

    async def writer(k: int) -> None:
        for i in range(15):
            async with pool.acquire() as conn, conn.transaction():
                await audit(conn, officer_id=None, action=f"w{k}", subject=str(i), details={})
                await asyncio.sleep(0.001 * ((k + i) % 3))  # commit in a shuffled order

    try:
        await asyncio.gather(*(writer(k) for k in range(6)))
    finally:
        await pool.close()
    rows = await own_db.fetch("SELECT id, prev_hash, hash FROM audit_log ORDER BY id")
    assert len(rows) == 90 and len({r["prev_hash"] for r in rows}) == 90, "no two share a parent"
    assert (await verify(own_db, [])).ok


async def test_the_migration_rehashes_older_rows_once(server_urls: tuple[str, str]) -> None:
    """Rows chained by 0001's trigger (time rendered in the session's zone) verify after 0014,
    and the row it appends keeps the old head's hash."""
    admin = await asyncpg.connect(server_urls[0])
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await db.connect(with_database(server_urls[0], name))
    try:
        await conn.execute(db.CREATE_MIGRATIONS)
        for version, file, sql in db.migration_files():
            if version < 14:
                await conn.execute(sql)
                await conn.execute(db.RECORD, version, file)
        await write_rows(conn, 5, time_zone="Asia/Shanghai")
        old_head = await conn.fetchval("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        assert not (await verify(conn, [])).ok, "0001's hashes are not the canonical form"
        await db.migrate(conn)
        verdict = await verify(conn, [])
        assert verdict.ok and verdict.rows == 6, verdict
        rehash = await conn.fetchrow("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1")
        assert rehash is not None
        assert rehash["action"] == "audit.rehash"
        assert rehash["details"]["old_head_hash"] == old_head.hex()
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def tamper(conn: asyncpg.Connection, row_id: int, *, rehash: bool) -> None:
    """What a database superuser can do: switch the triggers off, edit a row and, to hide it,
    recompute every later hash and the head with the database's own functions."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await conn.execute("UPDATE audit_log SET subject = 'person:999' WHERE id = $1", row_id)
    if rehash:
        await conn.execute(
            """
            DO $$ DECLARE r record; prev bytea; BEGIN
                FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
                    prev := coalesce(prev, r.prev_hash);
                    UPDATE audit_log SET prev_hash = prev, hash = sha256(prev || audit_canonical(
                        r.id, r.at, r.officer_id, r.action, r.subject, r.details))
                    WHERE id = r.id RETURNING hash INTO prev;
                END LOOP;
                UPDATE audit_chain SET last_hash = prev;
            END $$"""
        )
    await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_an_edit_rehashed_to_hide_it_fails_against_the_anchor(
    own_db: asyncpg.Connection, server_urls: tuple[str, str], tmp_path: Path
) -> None:
    anchor_file = tmp_path / "anchors.jsonl"
    async with flushed(redis_db(server_urls[1], 9)) as redis:
        await write_rows(own_db, 3)
        first = await anchors.write_anchor(own_db, redis, anchor_file, after=0)
        await write_rows(own_db, 3)
        head = await anchors.write_anchor(own_db, redis, anchor_file, after=first)
        assert await anchors.write_anchor(own_db, redis, anchor_file, after=head) == head
        found = await anchors.read_all(anchor_file, redis)
    assert sorted((a.id, a.source.split()[0]) for a in found) == sorted(
        [(first, "file"), (head, "file"), (first, "redis"), (head, "redis")]
    )
    assert (await verify(own_db, found)).ok
    await tamper(own_db, first + 1, rehash=True)
    assert (await verify(own_db, [])).ok, "by itself, the re-hashed chain holds"
    verdict = await verify(own_db, found)
    assert verdict.broken is not None and verdict.broken.id == head
    assert f"after {first}" in verdict.broken.reason


async def test_an_edit_left_unhashed_is_named_at_its_row(own_db: asyncpg.Connection) -> None:
    await write_rows(own_db, 5)
    middle = await own_db.fetchval("SELECT id FROM audit_log ORDER BY id OFFSET 2 LIMIT 1")
    await tamper(own_db, middle, rehash=False)
    verdict = await verify(own_db, [])
    assert verdict.broken is not None and verdict.broken.id == middle
    assert "content" in verdict.broken.reason


async def test_the_cli_verifies_and_names_the_first_bad_row(
    own_db: asyncpg.Connection,
    server_urls: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = await own_db.fetchval("SELECT current_database()")
    monkeypatch.setenv("DATABASE_URL", with_database(server_urls[0], name))
    monkeypatch.delenv("REDIS_URL", raising=False)
    anchor_file = str(tmp_path / "anchors.jsonl")
    await write_rows(own_db, 4)
    cli = CliRunner()
    args = ["audit", "verify", "--anchor-file", anchor_file]
    intact = await asyncio.to_thread(cli.invoke, app, args)
    assert intact.exit_code == 0 and "intact: 4 rows" in intact.output, intact.output
    second = await own_db.fetchval("SELECT id FROM audit_log ORDER BY id OFFSET 1 LIMIT 1")
    await tamper(own_db, second, rehash=False)
    broken = await asyncio.to_thread(cli.invoke, app, args)
    assert broken.exit_code == 1
    assert f"broken at row {second}" in broken.output


async def anchored(path: Path, lines: int) -> None:
    for _ in range(500):
        if len(await asyncio.to_thread(anchors.read_file, path)) >= lines:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path}: fewer than {lines} anchors after 10 s")


async def test_the_workers_loop_anchors_the_head_once_it_moves(
    own_db: asyncpg.Connection, server_urls: tuple[str, str], tmp_path: Path
) -> None:
    name = await own_db.fetchval("SELECT current_database()")
    anchor_file = tmp_path / "deep" / "anchors.jsonl"
    await write_rows(own_db, 2)
    pool = await db.create_pool(with_database(server_urls[0], name), min_size=1, max_size=1)
    async with flushed(redis_db(server_urls[1], 9)) as redis:
        loop = asyncio.create_task(anchors.run_anchoring(pool, redis, anchor_file, interval_s=0.05))
        try:
            await anchored(anchor_file, 1)
            await asyncio.sleep(0.2)  # rounds with nothing new write nothing
            await write_rows(own_db, 1)
            await anchored(anchor_file, 2)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await pool.close()
        found = await anchors.read_all(anchor_file, redis)
    head = await own_db.fetchval("SELECT last_id FROM audit_chain")
    assert [a.id for a in found if a.source.startswith("file")] == [head - 1, head]
    assert len(found) == 4 and (await verify(own_db, found)).ok
