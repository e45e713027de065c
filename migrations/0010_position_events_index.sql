-- the workers delete live-map position events once old (monitor/maintenance.py); alert events
-- stay for good, so without this the oldest-first scan would wade through them every round
CREATE INDEX events_position_created ON events (created_at) WHERE type = 'position';
