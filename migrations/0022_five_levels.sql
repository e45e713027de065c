-- Five levels of jurisdiction (docs/decisions/0016): 司法部 ministry > province > city >
-- district > street, and alerts escalate up the same ladder. A node ranks strictly below its
-- parent (levels between may be skipped: a district directly under a province-level city).
CREATE FUNCTION jurisdiction_level_rank(level text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_position(ARRAY['street', 'district', 'city', 'province', 'ministry'], level)
$$;

-- widened, not narrowed: every row already holds, so the check is validated without rewriting
ALTER TABLE jurisdictions DROP CONSTRAINT jurisdictions_level_check,
    ADD CONSTRAINT jurisdictions_level_check
        CHECK (level IN ('ministry', 'province', 'city', 'district', 'street')) NOT VALID;
ALTER TABLE jurisdictions VALIDATE CONSTRAINT jurisdictions_level_check;
ALTER TABLE alerts DROP CONSTRAINT alerts_escalation_level_check,
    ADD CONSTRAINT alerts_escalation_level_check
        CHECK (escalation_level IN ('street', 'district', 'city', 'province', 'ministry')) NOT VALID;
ALTER TABLE alerts VALIDATE CONSTRAINT alerts_escalation_level_check;

-- the insert trigger that writes the path reads the parent's row anyway: it checks the rank too
CREATE OR REPLACE FUNCTION jurisdictions_set_path() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_level text;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
    ELSE
        SELECT path || NEW.id || '/', level INTO NEW.path, parent_level
        FROM jurisdictions WHERE id = NEW.parent_id;
        IF jurisdiction_level_rank(NEW.level) >= jurisdiction_level_rank(parent_level) THEN
            RAISE EXCEPTION 'level: a % cannot sit under a % (parent_id %)',
                NEW.level, parent_level, NEW.parent_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'jurisdictions_level_below_parent';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- a level changed later must still rank below its parent and above every child
CREATE FUNCTION jurisdictions_check_level() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM jurisdictions p WHERE p.id = NEW.parent_id
               AND jurisdiction_level_rank(p.level) <= jurisdiction_level_rank(NEW.level))
       OR EXISTS (SELECT 1 FROM jurisdictions c WHERE c.parent_id = NEW.id
                  AND jurisdiction_level_rank(c.level) >= jurisdiction_level_rank(NEW.level)) THEN
        RAISE EXCEPTION 'level: jurisdiction % as a % would not rank below its parent and '
                        'above its children', NEW.id, NEW.level
            USING ERRCODE = 'check_violation', CONSTRAINT = 'jurisdictions_level_below_parent';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER jurisdictions_level BEFORE UPDATE OF level, parent_id ON jurisdictions
    FOR EACH ROW EXECUTE FUNCTION jurisdictions_check_level();
