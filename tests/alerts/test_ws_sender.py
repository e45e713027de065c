"""The socket sender: queued messages go out without a loop turn each, heartbeats in silence."""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from alerts import ws
from alerts.hub import Message, Subscription


class Recorder:
    """Stands in for the WebSocket: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


def subscription(count: int) -> Subscription:
    sub = Subscription("/1/", 0, True, asyncio.Queue(10_000))
    for i in range(1, count + 1):
        sub.queue.put_nowait(Message(i, "position", "/1/", f'{{"id":{i}}}'))
    return sub


async def test_a_queue_goes_out_in_a_few_loop_turns_not_one_per_message() -> None:
    """Under load the hub queues hundreds of positions a second; waiting a loop turn per
    message made the socket fall seconds behind the hub."""
    sub, socket = subscription(600), Recorder()
    sender = asyncio.create_task(ws.send_queued(socket, sub, heartbeat_s=30))  # type: ignore[arg-type]
    for _ in range(4):
        await asyncio.sleep(0)
    assert len(socket.sent) == 600
    assert sub.cursor == 600
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender


async def test_other_tasks_run_while_a_long_queue_is_sent() -> None:
    sub, socket = subscription(3 * ws.YIELD_EVERY), Recorder()
    seen_mid_send: list[int] = []

    async def other() -> None:
        await asyncio.sleep(0)
        seen_mid_send.append(len(socket.sent))

    sender = asyncio.create_task(ws.send_queued(socket, sub, heartbeat_s=30))  # type: ignore[arg-type]
    await other()
    assert 0 < seen_mid_send[0] < 3 * ws.YIELD_EVERY
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender


async def test_silence_sends_a_heartbeat_with_the_cursor_and_no_id() -> None:
    sub, socket = subscription(2), Recorder()
    sender = asyncio.create_task(ws.send_queued(socket, sub, heartbeat_s=0.05))  # type: ignore[arg-type]
    await asyncio.sleep(0.12)
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    beats = [orjson.loads(t) for t in socket.sent[2:]]
    assert beats and all(b["type"] == "heartbeat" and b["last_id"] == 2 for b in beats)
    assert all("id" not in b for b in beats)


async def test_messages_already_sent_are_not_sent_again() -> None:
    sub, socket = subscription(5), Recorder()
    sub.cursor = 3  # the backlog from PostgreSQL went out through id 3
    sender = asyncio.create_task(ws.send_queued(socket, sub, heartbeat_s=30))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert socket.sent == ['{"id":4}', '{"id":5}']
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender
