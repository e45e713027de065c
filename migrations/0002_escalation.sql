-- when an unacknowledged alert last moved up the street → district → city ladder
ALTER TABLE alerts ADD COLUMN escalated_at timestamptz;
CREATE INDEX alerts_unacknowledged ON alerts (opened_at) WHERE status IN ('open', 'escalated');
