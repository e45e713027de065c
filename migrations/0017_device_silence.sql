-- Device silence and separation are judged per device (docs/decisions/0009). The evaluator
-- keeps each person's live bands and phones beside their fences, so enrolling or revoking a
-- device, or moving it to another kind or person, must move the person's revision
-- (migrations/0006). A token rotation changes nothing the evaluator reads: it moves nothing.
CREATE TRIGGER devices_revise AFTER INSERT OR DELETE OR UPDATE OF person_id, kind, revoked_at
    ON devices FOR EACH ROW EXECUTE FUNCTION revise_person_of_row();

