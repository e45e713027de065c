-- check-in rules (签到): a ping with checkin: true is due within a local daily window. The
-- timers judge each window once, at due_at (its end plus the rule's grace), in the same
-- transaction that moves due_at to the next window; a rule of another kind has no due_at.
ALTER TABLE person_rules DROP CONSTRAINT person_rules_kind;
ALTER TABLE person_rules ADD CONSTRAINT person_rules_kind
    CHECK (kind IN ('curfew', 'suspension', 'thresholds', 'checkin'));
ALTER TABLE person_rules ADD COLUMN due_at timestamptz;
ALTER TABLE person_rules ADD CONSTRAINT person_rules_checkin_due
    CHECK ((kind = 'checkin') = (due_at IS NOT NULL));
CREATE INDEX person_rules_checkin_due ON person_rules (due_at) WHERE kind = 'checkin' AND active;

-- moving due_at changes nothing the evaluator reads about the person: only the columns it
-- reads move the person's revision (and only they take the person's row lock)
DROP TRIGGER person_rules_revise ON person_rules;
CREATE TRIGGER person_rules_revise
    AFTER INSERT OR DELETE OR UPDATE OF person_id, kind, params, active ON person_rules
    FOR EACH ROW EXECUTE FUNCTION revise_person_of_row();

-- the timers' question every round: open missed_checkin alerts with no check-in noted yet
CREATE INDEX alerts_checkin_unnoted ON alerts (id)
    WHERE type = 'missed_checkin' AND status <> 'resolved' AND details->>'checked_in_at' IS NULL;
