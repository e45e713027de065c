"""The stream worker: reads pings by partition, judges each person's batch against their fences
and rules, and writes alerts with their events through `alerts` (lifecycle and outbox)."""
