"""What the running app holds: settings and the shared connections, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis

from alerts.hub import Hub
from ingest.engine import Ingestor
from monitor.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    ingestor: Ingestor
    hub: Hub
