-- the officer's alert list orders by opening time (newest or oldest first) and filters on a
-- range of it; without this every page sorts all alerts within reach
CREATE INDEX alerts_opened ON alerts (opened_at, id);
