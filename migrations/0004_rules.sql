-- per-person rules the evaluator applies: curfew windows, alert suspensions, own thresholds
ALTER TABLE person_rules
    ADD CONSTRAINT person_rules_kind CHECK (kind IN ('curfew', 'suspension', 'thresholds'));
ALTER TABLE person_rules ADD COLUMN created_by bigint REFERENCES officers (id);
ALTER TABLE person_rules ADD COLUMN deactivated_at timestamptz;

-- a permit is closed (销假) when the person is judged back, or found inside once it ended;
-- overdue_alert_id is the overdue_return alert opened when it ended with the person away
ALTER TABLE leave_permits ADD COLUMN closed_at timestamptz;
ALTER TABLE leave_permits ADD COLUMN overdue_alert_id bigint REFERENCES alerts (id);
CREATE INDEX leave_permits_open ON leave_permits (ends_at)
    WHERE closed_at IS NULL AND cancelled_at IS NULL AND overdue_alert_id IS NULL;
