-- Records change, with history (docs/decisions/0015): every change to a person's record
-- (level, fences, jurisdiction, time zone, name, case number, discharge) keeps a row here:
-- who, when, which fields, the old and the new values. Rows are only ever added; the audit
-- log says that a change happened, this table says what it was, readable per person.
CREATE TABLE person_history (
    id          bigserial PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES persons (id),
    at          timestamptz NOT NULL DEFAULT now(),
    officer_id  bigint REFERENCES officers (id),
    action      text NOT NULL CHECK (action IN ('update', 'discharge')),
    -- {"field": {"old": .., "new": ..}, ..}
    changes     jsonb NOT NULL,
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX person_history_person ON person_history (person_id, id);

CREATE FUNCTION person_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'person_history is append-only';
END $$;
CREATE TRIGGER person_history_no_change BEFORE UPDATE OR DELETE ON person_history
    FOR EACH ROW EXECUTE FUNCTION person_history_append_only();

-- 解矫: the end of supervision. The person's record stays; tracking stops. The UPDATE moves
-- persons.revision (migration 0006), so evaluators re-read the person at their next batch.
ALTER TABLE persons
    ADD COLUMN discharged_at timestamptz,
    ADD COLUMN discharged_by bigint REFERENCES officers (id),
    ADD COLUMN discharge_date date,
    ADD COLUMN discharge_reason text;
