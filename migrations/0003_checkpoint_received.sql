-- how far into the ping log each partition's evaluator has judged, in ingest (receive) time;
-- after Redis loses its streams, pings received since then are replayed from PostgreSQL
ALTER TABLE stream_checkpoints ADD COLUMN received_through timestamptz NOT NULL DEFAULT '-infinity';
