-- how far into the ping log each partition's evaluator has judged, in ingest (receive) time;
-- after Redis loses entries, pings received since then are replayed from PostgreSQL
ALTER TABLE stream_checkpoints ADD COLUMN received_through timestamptz;
-- set by ingest when it stored pings but could not hand them to the stream
ALTER TABLE stream_checkpoints ADD COLUMN replay_from timestamptz;
