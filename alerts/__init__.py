"""Alert lifecycle: ping evaluation, persistence with an outbox, WebSocket hub, officer API."""
