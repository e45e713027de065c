"""The ping at its lowest level, beside `geofence/`: its columnar batch, how it is stored and
streamed, and the PostgreSQL connection type the stores share. Imports nothing of ours."""
