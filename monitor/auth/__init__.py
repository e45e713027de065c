"""Officer accounts, sessions and the jurisdiction-scoped access rules."""
