"""Prometheus metrics of delivery: events written, officer sockets open."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter("monitor_events", "Events written to the event log, by type", ["type"])
SOCKETS = Gauge("monitor_websockets", "Open officer WebSocket connections")
