-- Device silence and separation are judged per device (docs/decisions/0009). The evaluator
-- keeps each person's live bands and phones beside their fences, so enrolling or revoking a
-- device, or moving it to another kind or person, must move the person's revision
-- (migrations/0006). A token rotation changes nothing the evaluator reads: it moves nothing.
CREATE TRIGGER devices_revise AFTER INSERT OR DELETE OR UPDATE OF person_id, kind, revoked_at
    ON devices FOR EACH ROW EXECUTE FUNCTION revise_person_of_row();


-- The oldest newest fix among the person's live devices (NULL if one never reported), saved
-- with the person's state: the timers pass over every person whose devices all reported
-- lately on this column alone, instead of reading each device's time out of the state.
ALTER TABLE person_state ADD COLUMN quietest_fix_at timestamptz;
