"""The body deadline: a late body is refused by name, anyone else's cancellation is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.body import BodyReader
from ingest.errors import BodyTimeoutError, BodyTooLargeError


async def arriving(*parts: bytes, stall: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if stall is not None:
        await stall.wait()  # the rest of the body never comes


async def test_a_body_already_here_is_read_and_forgotten() -> None:
    reader = BodyReader(max_bytes=10, timeout_s=0.05)
    assert await reader.read(arriving(b"ab", b"c"), "3") == b"abc"
    assert not reader._deadlines


async def test_a_stalled_body_is_refused_once_late_and_the_task_is_not_left_cancelled() -> None:
    reader = BodyReader(max_bytes=10, timeout_s=0.05)
    with pytest.raises(BodyTimeoutError, match=r"body not received in full within 0\.05 s"):
        await reader.read(arriving(b"id=", stall=asyncio.Event()), "10")
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert not reader._deadlines and not reader._expired
    await asyncio.sleep(0)  # and the task goes on


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    reader = BodyReader(max_bytes=10, timeout_s=60)
    read = asyncio.create_task(reader.read(arriving(stall=asyncio.Event()), None))
    await asyncio.sleep(0.01)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert not reader._deadlines


async def test_the_size_limit_still_holds() -> None:
    reader = BodyReader(max_bytes=10, timeout_s=1)
    with pytest.raises(BodyTooLargeError):
        await reader.read(arriving(b"x" * 6, b"x" * 6), None)
    with pytest.raises(BodyTooLargeError):
        await reader.read(arriving(), "11")
    assert await reader.read(arriving(b"x" * 12), None, limit=12) == b"x" * 12
