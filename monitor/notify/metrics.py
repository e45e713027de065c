"""Prometheus metrics of notification deliveries."""

from __future__ import annotations

from prometheus_client import Counter

ATTEMPTS = Counter(
    "monitor_notification_attempts", "Webhook delivery attempts, by outcome", ["outcome"]
)
DELIVERED = Counter("monitor_notifications_delivered", "Webhook deliveries a receiver accepted")
FAILED = Counter(
    "monitor_notifications_failed", "Webhook deliveries given up after their last attempt"
)
SUPERSEDED = Counter(
    "monitor_notifications_superseded",
    "Webhook deliveries of an alert opening or escalating not sent: the alert was resolved first",
)
