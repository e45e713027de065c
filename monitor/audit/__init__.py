"""The hash-chained audit log: verification, anchors, the oversight API."""
