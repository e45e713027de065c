"""Prometheus metrics of the ingest path."""

from __future__ import annotations

from prometheus_client import Counter

PINGS = Counter("monitor_pings", "Pings received, by outcome", ["outcome"])
OVERLOADED = Counter(
    "monitor_ingest_overloaded", "Requests answered 503 (overload or database down)"
)
