-- An alert can be assigned to one officer, and carries any number of follow-up notes
-- (每日跟进; docs/decisions/0018). The note count and the newest note's time are kept on the
-- alert, written in the note's transaction, so that the list, the wire form and the
-- follow-up-due filter read one row instead of counting notes per alert.
ALTER TABLE alerts
    ADD COLUMN assigned_to  bigint REFERENCES officers (id),
    ADD COLUMN assigned_at  timestamptz,
    ADD COLUMN assigned_by  bigint REFERENCES officers (id),
    ADD COLUMN notes_count  integer NOT NULL DEFAULT 0,
    ADD COLUMN last_note_at timestamptz;

-- "mine": an officer's assigned alerts, few among many
CREATE INDEX alerts_assigned_to ON alerts (assigned_to) WHERE assigned_to IS NOT NULL;

CREATE TABLE alert_notes (
    id          bigserial PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id),
    officer_id  bigint NOT NULL REFERENCES officers (id),
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_notes_alert ON alert_notes (alert_id, id);
