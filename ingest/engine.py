"""Ingest orchestration: validate items, check the monitoring order, store, hand to evaluators."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import numpy as np
import redis.asyncio as aioredis
from prometheus_client import Counter

from geofence.crs import to_wgs84
from ingest import metrics, schemas, store
from ingest.body import BodyReader
from ingest.errors import DATABASE_UNAVAILABLE as DB_ERRORS
from ingest.errors import (
    DeviceAuthError,
    MalformedBodyError,
    OverloadedError,
    UnknownDeviceError,
    UnstorableError,
)
from ingest.group_commit import (
    CommitUnavailableError,
    GroupCommitter,
    GroupConfig,
    StorageRefusedError,
)
from ingest.models import Device, IngestResult, ItemError, Ping
from pings.clock import dt_to_us
from pings.pg import Conn
from pings.settled_cache import SettledCache

log = logging.getLogger(__name__)

# the change feed re-reads this much of the past: a transaction stamps its rows when it writes
# them and may commit later (migrations/0011)
CHANGE_LOOKBACK = timedelta(seconds=10)
FEED_ERRORS: tuple[type[Exception], ...] = (*DB_ERRORS, asyncpg.PostgresError)
DeviceFields = tuple[str, int, str, bool, int]  # a Device's fields, as cached
OrderWindows = tuple[tuple[int, int], ...]  # a person's orders, [start, end) epoch µs


@dataclass(frozen=True)
class IngestConfig:
    partitions: int
    stream_maxlen: int
    clock_skew_s: int
    retention_days: int
    max_pings_per_request: int
    max_inflight_requests: int
    retry_after_s: int
    max_body_bytes: int
    # radius assumed when a device says 0 or nothing: unknown is never perfect
    unknown_accuracy_m: float = 100.0
    group_max_pings: int = 5000
    # a device or order lookup is reused while the change feed answers (a change is seen within
    # about feed_interval_s); without it, for at most this long after the feed last answered
    device_cache_s: float = 30.0
    feed_interval_s: float = 1.0
    max_queued_pings: int = 50_000
    # a request's body must arrive in full within this long (408 otherwise)
    body_read_timeout_s: float = 10.0


class Ingestor:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, config: IngestConfig) -> None:
        self.pool = pool
        self.redis = redis
        self.config = config
        self._inflight = 0
        self.bodies = BodyReader(
            max_bytes=config.max_body_bytes, timeout_s=config.body_read_timeout_s
        )
        # entries hold the monotonic time they were loaded (see _fresh); every part of an entry
        # is a plain tuple, so that the settled caches stay out of garbage collection
        self._devices: SettledCache[tuple[str, Any], tuple[float, DeviceFields | None]]
        self._devices = SettledCache()
        self._device_keys: SettledCache[str, tuple[tuple[str, Any], ...]] = SettledCache()
        self._orders: SettledCache[int, tuple[float, OrderWindows]] = SettledCache()
        self._feed_ok = -math.inf  # monotonic time of the change feed's last answer
        self._feed_since: datetime | None = None
        self.committer = GroupCommitter(
            pool,
            redis,
            GroupConfig(
                partitions=config.partitions,
                stream_maxlen=config.stream_maxlen,
                max_batch_pings=config.group_max_pings,
                max_queued_pings=config.max_queued_pings,
            ),
        )

    def admitted(self) -> _Admitted:
        """Bounded in-flight work: past the limit the device is told to come back, never dropped."""
        if self._inflight >= self.config.max_inflight_requests:
            refused = self.overloaded("too many requests in flight")
            refused.close_connection = True  # its body is not read
            raise refused
        return _Admitted(self)

    def overloaded(self, why: str) -> OverloadedError:
        metrics.OVERLOADED.inc()
        return OverloadedError(f"{why}; retry later", retry_after_s=self.config.retry_after_s)

    async def device_for_token(self, token: str | None, token_hash: bytes) -> Device:
        if not token:
            raise DeviceAuthError("missing device credential (Authorization: Bearer <token>)")
        device = await self._cached_device(("token", token_hash))
        if device is None:
            raise DeviceAuthError("unknown or revoked device token")
        return device

    async def device_for_id(self, device_id: str) -> Device:
        if "\x00" in device_id:  # no device id has one; PostgreSQL text cannot hold it
            raise UnknownDeviceError("id: must not contain NUL (\\u0000) characters")
        device = await self._cached_device(("id", device_id))
        if device is None or not device.identifier_only:
            raise UnknownDeviceError(
                f"device {device_id!r} is not enrolled for identifier-only use"
            )
        return device

    def _fresh(self, loaded: float) -> bool:
        """An entry is known current as of its load or the feed's last answer, whichever is
        later (every entry still held has survived every answer since its load); it is used
        while that is under device_cache_s ago."""
        return time.monotonic() - max(loaded, self._feed_ok) < self.config.device_cache_s

    async def _cached_device(self, key: tuple[str, Any]) -> Device | None:
        hit = self._devices.get(key)
        if hit is not None and self._fresh(hit[0]):
            return None if hit[1] is None else Device(*hit[1])
        loaded = time.monotonic()
        async with self._connection() as conn:
            if key[0] == "token":
                device = await store.get_device_by_token(conn, token_hash=key[1])
            else:
                device = await store.get_device_by_id(conn, device_id=key[1])
        # a plain tuple of plain values: Python leaves it out of garbage collection (only exact
        # tuples are untracked, not a dataclass nor a named tuple); with a fleet-sized cache
        # each full collection otherwise walked every entry
        # (docs/decisions/0026-fleet-caches-and-the-collector.md)
        self._devices[key] = (loaded, None if device is None else astuple(device))
        device_id = device.id if device is not None else key[1] if key[0] == "id" else None
        if device_id is not None:
            known = self._device_keys.get(device_id) or ()
            if key not in known:
                self._device_keys[device_id] = (*known, key)
        return device

    async def watch_changes(self) -> None:
        """Every feed_interval_s: forget the devices and order windows changed since the last
        answer (re-reading the last LOOKBACK, so a change whose transaction committed late is
        not missed). A revoked or rotated token stops working, and a new order is honoured,
        within about a second; entries otherwise live as long as this keeps answering."""
        while True:
            asked = time.monotonic()
            try:
                async with self.pool.acquire() as conn:
                    now, device_ids, person_ids = await store.changes(conn, since=self._feed_since)
            except FEED_ERRORS as exc:
                log.warning("ingest change feed unavailable (%r); cached lookups age out", exc)
            else:
                self.forget(device_ids, person_ids)
                self._feed_since = now - CHANGE_LOOKBACK
                self._feed_ok = asked
            self.settle_caches()
            await asyncio.sleep(self.config.feed_interval_s)

    def settle_caches(self) -> None:
        """Entries looked up since the last round join those no full collection walks."""
        for cache in (self._devices, self._device_keys, self._orders):
            cache.settle()

    def forget(self, device_ids: list[str], person_ids: list[int]) -> None:
        for device_id in device_ids:
            for key in self._device_keys.pop(device_id) or ():
                self._devices.pop(key)
        for person_id in person_ids:
            self._orders.pop(person_id)

    async def ingest(self, device: Device, items: list[Any]) -> IngestResult:
        limit = self.config.max_pings_per_request
        if len(items) > limit:
            raise MalformedBodyError(f"{len(items)} pings in one request; the limit is {limit}")
        now = datetime.now(UTC)
        limits = schemas.Limits(now, self.config.clock_skew_s, self.config.retention_days)
        valid, rejected = validate(items, device.id, limits)
        valid, refused = await self._with_active_order(device.person_id, valid)
        rejected += refused
        new_keys = await self._commit(device.person_id, [p for _, p in valid])
        rejected.sort(key=lambda e: e.index)
        result = IngestResult(len(new_keys), len(valid) - len(new_keys), rejected)
        count(metrics.PINGS_ACCEPTED, result.accepted)
        count(metrics.PINGS_DUPLICATE, result.duplicates)
        count(metrics.PINGS_REJECTED, len(rejected))
        return result

    async def _commit(self, person_id: int, pings: list[Ping]) -> set[int]:
        if not pings:
            return set()
        if not self.committer.has_room(len(pings)):
            raise self.overloaded("ingest queue is full")
        try:
            return await self.committer.submit(person_id, pings)
        except CommitUnavailableError as exc:
            raise self.overloaded("database unavailable") from exc
        except StorageRefusedError as exc:
            raise UnstorableError(f"pings could not be stored: {exc}") from exc

    async def _with_active_order(
        self, person_id: int, valid: list[tuple[int, Ping]]
    ) -> tuple[list[tuple[int, Ping]], list[ItemError]]:
        return split_by_order(valid, await self._order_windows(person_id))

    async def _order_windows(self, person_id: int) -> OrderWindows:
        hit = self._orders.get(person_id)
        if hit is not None and self._fresh(hit[0]):
            return hit[1]
        loaded = time.monotonic()
        async with self._connection() as conn:
            rows = await store.order_windows(conn, person_id=person_id)
        windows = tuple((dt_to_us(start), dt_to_us(end)) for start, end in rows)
        self._orders[person_id] = (loaded, windows)
        return windows

    def _connection(self) -> _Acquire:
        return _Acquire(self)


class _Admitted:
    """One request counted in flight (a class: @contextmanager's generator costs more)."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor

    def __enter__(self) -> None:
        self.ingestor._inflight += 1

    def __exit__(self, *exc_info: object) -> None:
        self.ingestor._inflight -= 1


class _Acquire:
    """pool.acquire() that turns an unreachable database into 503, never a 500."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.ctx: Any = None

    async def __aenter__(self) -> Conn:
        try:
            self.ctx = self.ingestor.pool.acquire(timeout=5.0)
            conn: Conn = await self.ctx.__aenter__()
            return conn
        except DB_ERRORS as exc:
            raise self.ingestor.overloaded(f"database unavailable ({type(exc).__name__})") from exc

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.ctx.__aexit__(*exc_info)
        if exc_info[0] is not None and issubclass(exc_info[0], DB_ERRORS):
            raise self.ingestor.overloaded("database unavailable") from exc_info[1]


NOT_COVERED = (
    "ts: no active monitoring order covers this time; the ping is refused and nothing is tracked"
)


def split_by_order(
    valid: list[tuple[int, Ping]], windows: OrderWindows
) -> tuple[list[tuple[int, Ping]], list[ItemError]]:
    """(the pings an order covers, an error for each other one). A request's pings mostly lie
    within minutes of each other: one window covering the earliest and the latest covers all."""
    if not valid:
        return valid, []
    times = [p.ts_us for _, p in valid]
    earliest, latest = min(times), max(times)
    if any(start <= earliest and latest < end for start, end in windows):
        return valid, []
    kept, refused = [], []
    for index, ping in valid:
        if is_covered(ping.ts_us, windows):
            kept.append((index, ping))
        else:
            refused.append(ItemError(index, NOT_COVERED))
    return kept, refused


def is_covered(ts_us: int, windows: OrderWindows) -> bool:
    for start, end in windows:  # noqa: SIM110 - a generator per ping costs more than the loop
        if start <= ts_us < end:
            return True
    return False


def count(counter: Counter, amount: int) -> None:
    if amount:
        counter.inc(amount)


def validate(
    items: list[Any], device_id: str, limits: schemas.Limits
) -> tuple[list[tuple[int, Ping]], list[ItemError]]:
    if len(items) >= schemas.COLUMNWISE_MIN:
        plain = schemas.plain_batch(items, device_id, limits)
        if plain is not None:  # nearly every batch: no error, no optional field, WGS-84
            return list(enumerate(plain)), []
    valid, rejected = [], []
    for index, item in enumerate(items):
        try:
            valid.append((index, schemas.item_to_ping(item, device_id=device_id, limits=limits)))
        except schemas.FieldError as exc:
            rejected.append(ItemError(index, str(exc)))
    return to_wgs84_pings(valid), rejected


def to_wgs84_pings(valid: list[tuple[int, Ping]]) -> list[tuple[int, Ping]]:
    """Phone apps on Chinese map SDKs send GCJ-02; everything after ingest is WGS-84."""
    if all(p.crs_in == "wgs84" for _, p in valid):
        return valid
    out = list(valid)
    for crs in {p.crs_in for _, p in valid} - {"wgs84"}:
        picks = [n for n, (_, p) in enumerate(valid) if p.crs_in == crs]
        lat = np.array([valid[n][1].lat for n in picks])
        lon = np.array([valid[n][1].lon for n in picks])
        wlat, wlon = to_wgs84(lat, lon, crs)
        for k, n in enumerate(picks):
            index, ping = valid[n]
            out[n] = (index, replace(ping, lat=float(wlat[k]), lon=float(wlon[k])))
    return out
