"""Prometheus metrics of the ingest path."""

from __future__ import annotations

from prometheus_client import Counter

PINGS = Counter("monitor_pings", "Pings received, by outcome", ["outcome"])
# resolved once: a labels() lookup per request shows in the single-ping profile
PINGS_ACCEPTED = PINGS.labels("accepted")
PINGS_DUPLICATE = PINGS.labels("duplicate")
PINGS_REJECTED = PINGS.labels("rejected")
OVERLOADED = Counter(
    "monitor_ingest_overloaded", "Requests answered 503 (overload or database down)"
)
COPY_DUPLICATES = Counter(
    "monitor_ingest_copy_duplicates",
    "Flushes stored by INSERT ... ON CONFLICT after COPY met a duplicate ping",
)
