"""Reading a device's request body: bounded in size, and in time from the first read.

A client that sends headers and then a body slowly (or never) would otherwise hold its
request open for as long as it likes: uvicorn puts no deadline on a body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ingest.errors import BodyTimeoutError, BodyTooLargeError

Task = asyncio.Task[Any]


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed `limit`."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body of {declared} bytes exceeds the {limit}-byte limit")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body exceeds the {limit}-byte limit")
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class BodyReader:
    """Reads bodies, each refused (408) once it has taken longer than `timeout_s`.

    One sweep cancels the reads past their deadline, instead of a timer per read, since nearly
    every device's body arrives with its headers and is read without waiting at all
    (docs/decisions/0029-device-routes-in-front-of-the-app.md). A read
    is refused between `timeout_s` and `timeout_s + sweep_s` after it began."""

    def __init__(self, *, max_bytes: int, timeout_s: float) -> None:
        self.max_bytes, self.timeout_s = max_bytes, timeout_s
        self.sweep_s = min(1.0, timeout_s / 4)
        self._deadlines: dict[Task, float] = {}  # reads in progress
        self._expired: set[Task] = set()  # reads cancelled by the sweep, not yet unwound
        self._sweep: asyncio.TimerHandle | None = None

    async def read(
        self, chunks: AsyncIterator[bytes], declared: str | None, *, limit: int | None = None
    ) -> bytes:
        """The whole body, within `limit` bytes (max_bytes by default) and the deadline."""
        task = asyncio.current_task()
        assert task is not None, "a request is read in a task"
        cancelling = task.cancelling()
        self._deadlines[task] = time.monotonic() + self.timeout_s
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(self.sweep_s, self._cancel_late)
        try:
            return await read_limited(chunks, declared, self.max_bytes if limit is None else limit)
        except asyncio.CancelledError:
            if task not in self._expired or task.uncancel() > cancelling:
                raise  # cancelled by someone else (too)
            raise BodyTimeoutError(
                f"body not received in full within {self.timeout_s:g} s"
            ) from None
        finally:
            del self._deadlines[task]
            self._expired.discard(task)

    def _cancel_late(self) -> None:
        now = time.monotonic()
        for task, deadline in self._deadlines.items():
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(self.sweep_s, self._cancel_late) if self._deadlines else None
