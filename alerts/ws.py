"""GET /v1/stream: alert events and live positions for an officer, resumable with since=<id>."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from alerts import metrics, store
from alerts.bounds import INT64_MAX
from alerts.hub import Hub, Message, Subscription
from alerts.runtime import runtime_of

router = APIRouter(tags=["stream"])

SUBPROTOCOL = "bearer"
# messages sent from a socket's queue before it lets the event loop run others
YIELD_EVERY = 256


def token_from_subprotocols(websocket: WebSocket) -> str | None:
    """Browsers cannot set headers on a WebSocket: accept ["bearer", <token>] as subprotocols."""
    offered = websocket.scope.get("subprotocols") or []
    if SUBPROTOCOL in offered and len(offered) > offered.index(SUBPROTOCOL) + 1:
        return str(offered[offered.index(SUBPROTOCOL) + 1])
    return None


@router.websocket("/v1/stream")
async def stream(
    websocket: WebSocket,
    token: str | None = None,
    since: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None,
    positions: bool = True,
) -> None:
    runtime = runtime_of(websocket)
    from_subprotocol = token_from_subprotocols(websocket)
    try:
        viewer = await runtime.authenticate(token or from_subprotocol)
    except Exception as exc:  # the app's auth error: refuse the socket with its message
        await websocket.close(code=4401, reason=str(exc)[:120])
        return
    # one audit row a socket, not one a message: it says who watched which subtree from when
    # (`since`: the replay asked for); a socket that cannot be audited is not opened
    async with runtime.pool.acquire() as conn:
        await store.audit(
            conn, officer_id=viewer.id, action="read_stream", subject=viewer.jurisdiction_path,
            details={"since": since, "positions": positions},
        )  # fmt: skip
    await websocket.accept(subprotocol=SUBPROTOCOL if from_subprotocol and not token else None)
    sub = runtime.hub.subscribe(
        jurisdiction_path=viewer.jurisdiction_path, since=since, positions=positions
    )
    metrics.SOCKETS.inc()
    credential = token or from_subprotocol
    try:
        await serve(
            websocket,
            runtime.hub,
            sub,
            runtime.heartbeat_s,
            session_ended(lambda: runtime.authenticate(credential), runtime.heartbeat_s),
        )
    finally:
        metrics.SOCKETS.dec()
        runtime.hub.unsubscribe(sub)


async def serve(
    websocket: WebSocket,
    hub: Hub,
    sub: Subscription,
    heartbeat_s: float,
    ended: Awaitable[str],
) -> None:
    """Send until the client goes, or until `ended` answers why the session is over (the
    socket is then closed with 4401 and that reason)."""
    sender = asyncio.create_task(send_events(websocket, hub, sub, heartbeat_s))
    receiver = asyncio.create_task(read_until_closed(websocket))
    watcher = asyncio.ensure_future(ended)
    tasks: set[asyncio.Future[Any]] = {sender, receiver, watcher}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if watcher in done and not watcher.exception():
        with contextlib.suppress(Exception):  # the client may be gone already
            await websocket.close(code=4401, reason=watcher.result()[:120])
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await task
    for task in done:
        with contextlib.suppress(WebSocketDisconnect):
            task.result()


async def session_ended(authenticate: Callable[[], Awaitable[object]], every_s: float) -> str:
    """Answers, within `every_s`, once the socket's session no longer authenticates: logged
    out, expired, or the officer disabled. A live map of supervised persons' positions must not
    outlive the right to see it. A database outage is not an ended session: asked again."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await authenticate()
        except Exception as exc:  # alerts never imports monitor: its auth error, by status
            if is_refusal(exc):
                return str(exc)


def is_refusal(exc: Exception) -> bool:
    """The app's auth errors answer 401; anything else (a database hiccup) is not a verdict."""
    return getattr(exc, "status_code", None) == 401


async def read_until_closed(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def send_events(
    websocket: WebSocket, hub: Hub, sub: Subscription, heartbeat_s: float
) -> None:
    while True:
        await send_backlog(websocket, hub, sub)
        await send_queued(websocket, sub, heartbeat_s)
        drain(sub)


async def send_queued(websocket: WebSocket, sub: Subscription, heartbeat_s: float) -> None:
    """What the hub queues for this socket, until the socket falls behind; a heartbeat
    whenever nothing came for heartbeat_s."""
    sent = 0
    while not sub.behind:
        message = await next_message(sub, heartbeat_s)
        if message is None:
            await websocket.send_text(heartbeat(sub.cursor))
            continue
        if message.id > sub.cursor:
            await websocket.send_text(message.text)
            sub.cursor = message.id
        sent += 1
        if sent % YIELD_EVERY == 0:
            await asyncio.sleep(0)  # a long queue must not hold the other sockets up


async def next_message(sub: Subscription, heartbeat_s: float) -> Message | None:
    """The next queued message, or None after heartbeat_s of silence. A waiting message is
    taken without a trip through the event loop: waiting costs a task and two loop turns,
    and under load (hundreds of positions a second) the socket fell seconds behind the hub."""
    try:
        return sub.queue.get_nowait()
    except asyncio.QueueEmpty:
        pass
    try:
        return await asyncio.wait_for(sub.queue.get(), heartbeat_s)
    except TimeoutError:
        return None


async def send_backlog(websocket: WebSocket, hub: Hub, sub: Subscription) -> None:
    while messages := await hub.catch_up(sub):
        for message in messages:
            await websocket.send_text(message.text)
            sub.cursor = message.id


def drain(sub: Subscription) -> None:
    """Forget the queue of a socket that fell behind; it catches up from PostgreSQL instead."""
    while not sub.queue.empty():
        sub.queue.get_nowait()
    sub.behind = False


def heartbeat(last_id: int) -> str:
    # no `id`: heartbeats are not events and must not move a client's resume point
    body = {"type": "heartbeat", "last_id": last_id, "at": datetime.now(UTC).isoformat()}
    return orjson.dumps(body).decode()
