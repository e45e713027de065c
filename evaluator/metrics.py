"""Prometheus metrics of evaluation."""

from __future__ import annotations

from prometheus_client import Histogram

BATCH_SECONDS = Histogram(
    "monitor_evaluation_seconds", "Time to evaluate and commit one stream entry"
)
# under single-ping load a transaction's fixed cost outweighs its pings': this says how many
# pings each one carries (docs/decisions/0022-evaluator-reads-and-gather.md)
TRANSACTION_PINGS = Histogram(
    "monitor_evaluation_transaction_pings",
    "Pings judged per evaluator transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)
