"""Clients of the service (over HTTP and WebSocket only): device fleets, trace replay, load."""
