"""Application shell: settings, app factory, CLI, database, Redis transport, auth, registry."""
