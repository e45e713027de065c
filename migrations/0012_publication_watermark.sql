-- Publication is a watermark, not a mark on every event (alerts/consumer.py). A hub woken for
-- id N reads every event up to N (ids commit in order, see event_counter), so "published
-- through N" says all that the per-row published_at said. Marking each row rewrote it: every
-- live-map position, most of this table, was written twice, with its index entries each
-- time, and could never be a HOT update because published_at is in an index's predicate.
ALTER TABLE event_counter ADD COLUMN published_id bigint NOT NULL DEFAULT 0;
UPDATE event_counter SET published_id = coalesce(
    (SELECT min(id) - 1 FROM events WHERE published_at IS NULL), last_id);
DROP INDEX events_unpublished;
ALTER TABLE events DROP COLUMN published_at;
-- nothing reads events by creation time but the position purge, which has its own index
-- (0010); position events have no alert, so the alert index need not hold them
DROP INDEX events_created;
DROP INDEX events_alert;
CREATE INDEX events_alert ON events (alert_id) WHERE alert_id IS NOT NULL;
