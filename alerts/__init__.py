"""Alert lifecycle: the alert store and its outbox, time-driven checks, the WebSocket hub and the
officer alert API. Imports nothing of the evaluator (the worker imports us)."""
