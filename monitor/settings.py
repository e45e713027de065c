"""One settings object for every role; read from MONITOR_* (and DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.levels import DEFAULT_TOP, Level
from monitor.notify import egress

INSECURE_SECRET = "change-me"
# the key of an HMAC (officer sessions): guessable from a stolen row and token if short
MIN_SECRET_CHARS = 32
# a tile server's host[:port]: letters, digits, dots and dashes only
SAFE_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
# an IANA zone as browsers know it: Area/Location (or UTC), not a file such as "localtime"
ZONE_NAME = re.compile(r"UTC|[A-Z][A-Za-z]+(/[A-Za-z0-9_+-]+){1,2}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MONITOR_", extra="ignore")

    # "development" allows the insecure defaults below; anything else refuses them
    environment: str = "development"
    # None: `monitor up` starts the embedded servers under data_dir
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MONITOR_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MONITOR_REDIS_URL", "REDIS_URL")
    )
    data_dir: Path = Path("monitor-data")
    host: str = "127.0.0.1"
    port: int = 8080
    # key of the HMAC officer sessions are stored under: changing it ends every session
    secret_key: str = INSECURE_SECRET
    # 0: start even while the database is down (/readyz and ingest answer 503 meanwhile)
    db_pool_min: int = 0
    db_pool_max: int = 10
    # Redis stream partitions; one person always maps to the same partition
    stream_partitions: int = 8
    # cap on one stream; XADD trims beyond it (entries are also in PostgreSQL)
    stream_maxlen: int = 100_000
    # stream entries read (and judged in one transaction) at a time; each holds one flush
    evaluator_batch: int = 64
    # a dead worker's partitions move to a live one after this
    lease_ttl_ms: int = 10_000
    evaluator_block_ms: int = 1000
    # a busy evaluator gathers reads this long before a transaction: fewer, larger ones
    evaluator_gather_ms: float = Field(default=15.0, ge=0)
    officer_token_ttl_s: int = 12 * 3600
    # failed logins from one client address within the window before it must wait it out
    login_address_failures: int = Field(default=20, ge=1)
    login_address_window_s: int = Field(default=600, ge=1)
    # failed logins for one username from one address, then from all addresses together,
    # within the window before that username must wait it out (from there, or everywhere)
    login_user_failures: int = Field(default=5, ge=1)
    login_user_all_addresses_failures: int = Field(default=50, ge=1)
    login_user_window_s: int = Field(default=900, ge=1)
    # pings whose fix time is further ahead of the server clock are refused
    clock_skew_s: int = 300
    # pings older than this are refused, and purged by the workers (monitor/maintenance.py);
    # at least the days partitions are made back at start, or a purge would undo them
    retention_days: int = Field(default=180, ge=3)
    # at most a block of ping ids (migrations/0013): one request's pings are stored together
    max_pings_per_request: int = Field(default=5000, ge=1, le=65_536)
    max_body_bytes: int = 5 * 1024 * 1024
    # a device's request body must arrive in full this soon after it is first read (408, and
    # the connection closed, otherwise): a slow or stalled body cannot hold a request open
    body_read_timeout_s: float = Field(default=10.0, gt=0)
    # accuracy assumed when an app reports 0 or none (unknown is never perfect)
    unknown_accuracy_m: float = 100.0
    # device and order lookups are cached this long: a revoked token works at most this long
    device_cache_s: float = 30.0
    # in-flight ingest requests before answering 503
    max_inflight_requests: int = 256
    retry_after_s: int = 2
    ws_heartbeat_s: float = 15.0
    # per-socket buffer; a client further behind is closed and must resume with since=
    ws_queue_max: int = 1000
    hub_poll_s: float = 2.0
    relay_interval_s: float = 1.0
    # live map dots: at most one position event per person this often
    position_interval_s: float = 5.0
    # a band and a phone of one person more than this far apart for certain (past both
    # accuracies and what they could have moved between the fixes) raise device_separation
    separation_m: float = Field(default=500.0, gt=0)
    # a band's and a phone's fixes further apart in time than this are not compared
    separation_pair_s: float = Field(default=120.0, gt=0, le=3600)
    # how often the timers run: signal_lost, escalation, overdue_return, missed_checkin,
    # orders about to lapse
    timer_interval_s: float = 10.0
    # the last rung unacknowledged alerts climb to (street → district → city → province →
    # ministry, as far as each alert's own chain of offices goes); "city" as before levels
    # above it existed
    escalation_top: Level = DEFAULT_TOP
    # this long before a monitoring order ends (unless renewed), its supervisors get a notice
    order_notice_days: float = Field(default=7.0, gt=0)
    # live-map position events are deleted once this old (alert events are kept)
    position_events_keep_h: float = Field(default=24.0, gt=0)
    # how often the workers make ping partitions ahead and purge pings past retention_days
    maintenance_interval_s: float = Field(default=3600.0, gt=0)
    # where the workers append the audit chain's head (also to a Redis stream): a copy outside
    # the database that verification holds the chain to; None: data_dir/audit-anchors.jsonl
    audit_anchor_file: Path | None = None
    # how often the workers write that anchor (only when the chain has grown)
    audit_anchor_interval_s: float = Field(default=60.0, gt=0)
    # how often the notifier reads new alert events into deliveries, and sends those due
    notify_interval_s: float = Field(default=2.0, gt=0)
    # a webhook receiver must answer within this (else the attempt failed, and is retried)
    notify_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # attempts of one delivery before it is given up (status failed)
    notify_max_attempts: int = Field(default=8, ge=1, le=100)
    # wait after the first failed attempt, doubling after each (with jitter), up to the cap
    notify_backoff_s: float = Field(default=10.0, gt=0)
    notify_backoff_max_s: float = Field(default=3600.0, gt=0)
    # the non-public networks webhooks may be sent to, e.g. "10.20.0.0/16, 10.30.1.5": public
    # addresses always may, every other one (loopback, private, link-local...) is refused
    webhook_allowed_networks: str = ""
    # run the evaluator and time-driven loops inside the API process (`monitor up`)
    run_workers: bool = True
    # `monitor worker` serves its Prometheus metrics here (the API serves its own at /metrics);
    # off unless set, since each worker on a host needs a port of its own
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65_535)
    worker_metrics_host: str = "127.0.0.1"
    # the console's basemap: an http(s) tile URL with {z}/{x}/{y}, e.g. an internal tile server
    # or the locality's 天地图 (its browser key in the URL is seen by every console anyway);
    # None: offline, the console draws fences only. Its origin is added to the console's CSP.
    tile_url: str | None = None
    # the tiles' datum: most Chinese tile sources are GCJ-02, so dots and fences (WGS-84) are
    # shifted onto it before drawing, or they would sit a few hundred metres off the street
    tile_crs: Literal["wgs84", "gcj02"] = "gcj02"
    # shown in the map's corner (licence terms of most tile sources require it); plain text
    tile_attribution: str = Field(default="", max_length=200)
    # the locality's zone: every time on the console is shown in it (and its filter's times
    # are read in it), whatever each PC's clock is set to, so officers comparing screens see
    # the same times; reports count days and months in it when a request names no `tz`
    time_zone: str = "Asia/Shanghai"

    @property
    def anchor_file(self) -> Path:
        return self.audit_anchor_file or self.data_dir / "audit-anchors.jsonl"

    @property
    def tile_origin(self) -> str | None:
        """scheme://host[:port] of tile_url, as the console's CSP names it."""
        if not self.tile_url:
            return None
        parts = urlsplit(self.tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("tile_url")
    @classmethod
    def _tile_url_is_one_origin(cls, url: str | None) -> str | None:
        if not url:
            return None
        parts = urlsplit(url)
        # the origin goes into a CSP header verbatim: nothing there may widen or end it
        if parts.scheme not in ("http", "https") or not SAFE_HOST.fullmatch(parts.netloc):
            raise ValueError(
                "MONITOR_TILE_URL: an http(s) URL with a plain host (no {s}, *, user or spaces), "
                "e.g. https://tiles.example.org/{z}/{x}/{y}.png"
            )
        if not all(f"{{{k}}}" in url for k in "zxy") or any(c.isspace() for c in url):
            raise ValueError("MONITOR_TILE_URL: name {z}, {x} and {y}, and no spaces")
        return url

    @property
    def webhook_networks(self) -> tuple[egress.Network, ...]:
        return egress.networks(self.webhook_allowed_networks)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, text: str) -> str:
        egress.networks(text)  # raises ValueError naming the item
        return text

    @field_validator("time_zone")
    @classmethod
    def _a_known_time_zone(cls, name: str) -> str:
        try:
            known = bool(ZONE_NAME.fullmatch(name)) and ZoneInfo(name) is not None
        except (ZoneInfoNotFoundError, ValueError):
            known = False
        if not known:
            raise ValueError(
                f"MONITOR_TIME_ZONE: {name!r} is not an IANA time zone; "
                "use a name such as Asia/Shanghai or Asia/Urumqi"
            )
        return name

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Self:
        if self.environment == "development":
            return self
        if self.secret_key == INSECURE_SECRET:
            raise ValueError("MONITOR_SECRET_KEY must be set outside development")
        if len(self.secret_key) < MIN_SECRET_CHARS:
            raise ValueError(
                f"MONITOR_SECRET_KEY: use at least {MIN_SECRET_CHARS} random characters, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self
