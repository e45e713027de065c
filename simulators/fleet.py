"""Device-fleet simulator: each device posts its pings over HTTP like a real band or phone app.

Movement is a pure function of time, so a test can say exactly when a device is where.
Most devices drift around home; "wanderers" walk out across the fence and come back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Route:
    """Home, and for a wanderer the point (outside the fence) it walks to each cycle."""

    home_lat: float
    home_lon: float
    away_lat: float | None = None
    away_lon: float | None = None
    cycle_s: float = 600.0
    phase_s: float = 0.0


@dataclass(frozen=True)
class SimDevice:
    device_id: str
    token: str
    person_id: int
    route: Route


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def position_at(route: Route, t: float) -> tuple[float, float]:
    """Where the device is at time t (seconds): a slow 150 m circle, or an out-and-back walk."""
    angle = 2 * math.pi * ((t + route.phase_s) % 900.0) / 900.0
    lat, lon = offset(route.home_lat, route.home_lon, 150 * math.sin(angle), 150 * math.cos(angle))
    if route.away_lat is None or route.away_lon is None:
        return lat, lon
    share = away_share((t + route.phase_s) % route.cycle_s, route.cycle_s)
    return lat + share * (route.away_lat - lat), lon + share * (route.away_lon - lon)


def away_share(u: float, cycle_s: float) -> float:
    """0 at home, 1 at the away point: home 1/3, walk out 1/6, stay 1/3, walk back 1/6."""
    x = u / cycle_s
    if x < 1 / 3:
        return 0.0
    if x < 1 / 2:
        return (x - 1 / 3) * 6
    if x < 5 / 6:
        return 1.0
    return 1.0 - (x - 5 / 6) * 6


def ping_body(device: SimDevice, t: float, *, accuracy_m: float = 15.0) -> dict[str, Any]:
    lat, lon = position_at(device.route, t)
    return {
        "device_id": device.device_id,
        "ts": int(t * 1000),
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy_m,
        "battery_pct": 80.0,
        "source": "gps",
    }


class Fleet:
    """Posts one ping per device every interval_s, each device with its own credential.

    Like a real band it retries what the server could not take (503 with Retry-After, or no
    connection) for up to `retry_for_s`, and remembers every ping the server acknowledged.
    """

    def __init__(
        self,
        base_url: str,
        devices: list[SimDevice],
        *,
        interval_s: float,
        retry_for_s: float = 0.0,
    ) -> None:
        self.base_url = base_url
        self.devices = devices
        self.interval_s = interval_s
        self.retry_for_s = retry_for_s
        self.sent = 0
        self.failed = 0
        self.acked: list[tuple[str, int]] = []  # (device_id, ts_ms) answered 202

    async def run(self, *, duration_s: float | None = None) -> None:
        deadline = None if duration_s is None else time.monotonic() + duration_s
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0, limits=limits) as client:
            while deadline is None or time.monotonic() < deadline:
                started = time.monotonic()
                await self.tick(client, time.time())
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def tick(self, client: httpx.AsyncClient, now_s: float) -> None:
        await asyncio.gather(*(self.post(client, d, now_s) for d in self.devices))

    async def post(self, client: httpx.AsyncClient, device: SimDevice, now_s: float) -> None:
        body = ping_body(device, now_s)
        headers = {"Authorization": f"Bearer {device.token}"}
        give_up = time.monotonic() + self.retry_for_s
        while True:
            try:
                reply = await client.post("/v1/pings", json=body, headers=headers)
            except httpx.HTTPError as exc:
                log.debug("ping from %s failed: %r", device.device_id, exc)
                reply = None
            if reply is not None and reply.status_code == 202:
                self.sent += 1
                self.acked.append((device.device_id, body["ts"]))
                return
            if (reply is not None and reply.status_code != 503) or time.monotonic() > give_up:
                self.failed += 1
                return
            await asyncio.sleep(retry_after(reply))


def retry_after(reply: httpx.Response | None) -> float:
    """The server's Retry-After (capped at 2 s), or half a second when it did not answer."""
    if reply is None:
        return 0.5
    try:
        return min(float(reply.headers.get("retry-after", "1")), 2.0)
    except ValueError:
        return 1.0
