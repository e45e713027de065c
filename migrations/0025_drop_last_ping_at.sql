-- person_state.last_ping_at moved with every judged batch (the evaluator wrote now() there) and
-- nothing has read it since silence is judged per device from each device's newest fix
-- (docs/decisions/0009, migration 0017): a write on every save for no reader. Evaluators
-- that still write it must be stopped before this runs (docs/decisions/0009).
ALTER TABLE person_state DROP COLUMN last_ping_at;
