"""Wire shapes of fence edits: a new version, the versions kept, retirement, who is on a fence.

Closed models, as the person's patch (monitor/registry/casework_schemas.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alerts.bounds import JsonObject, Text
from monitor.registry.casework_schemas import MergePatch, Reason
from monitor.registry.schemas import CrsName


class FencePatch(MergePatch):
    """JSON merge patch of a fence: any change makes a new version; the old one is kept
    (`GET /v1/fences/{id}/versions`). The role and jurisdiction do not change: make a new
    fence for that."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    geometry: JsonObject | None = None
    crs: CrsName | None = Field(default=None, description="of the new geometry; only with it")
    properties: JsonObject | None = None


class FenceVersionOut(BaseModel):
    fence_id: int
    version: int
    name: str
    crs: CrsName
    geometry: dict[str, Any]
    properties: dict[str, Any]
    created_at: datetime


class RetireFenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
