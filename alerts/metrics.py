"""Prometheus metrics of evaluation and delivery."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("monitor_events", "Events written to the event log, by type", ["type"])
BATCH_SECONDS = Histogram(
    "monitor_evaluation_seconds", "Time to evaluate and commit one stream entry"
)
SOCKETS = Gauge("monitor_websockets", "Open officer WebSocket connections")
