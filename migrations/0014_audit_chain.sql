-- The audit chain, hardened (docs/decisions/0005-audit-chain.md):
--  * a row's hash covers a canonical form that no session setting changes: the time as epoch
--    microseconds, the rest as one jsonb array (unambiguous, NULLs explicit);
--  * appends are linear: the chain head is one locked row, and ids are taken under that lock,
--    so id order is chain order even when transactions commit out of order;
--  * TRUNCATE is refused like UPDATE and DELETE.
-- Rows written before this migration are re-hashed once under the new rule; the old head hash
-- is kept in the audit row this migration appends.

-- the time zone and DateStyle changed the old hash input (timestamptz rendered as text)
CREATE FUNCTION audit_canonical(
    id bigint, at timestamptz, officer_id bigint, action text, subject text, details jsonb
) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(jsonb_build_array(
        id, (extract(epoch FROM at) * 1000000)::bigint, officer_id, action, subject, details
    )::text, 'UTF8')
$$;

CREATE TABLE audit_chain (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_id    bigint NOT NULL,
    last_hash  bytea NOT NULL
);

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain;
BEGIN
    -- the head's row lock makes appends linear: a second writer waits for the first to commit,
    -- then reads the new head (under REPEATABLE READ it fails rather than fork the chain)
    SELECT * INTO STRICT head FROM audit_chain FOR UPDATE;
    -- the id is taken under the lock, so a later id always chains after an earlier one
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    NEW.prev_hash := head.last_hash;
    NEW.hash := sha256(NEW.prev_hash || audit_canonical(
        NEW.id, NEW.at, NEW.officer_id, NEW.action, NEW.subject, NEW.details));
    UPDATE audit_chain SET last_id = NEW.id, last_hash = NEW.hash;
    RETURN NEW;
END $$;

-- the trigger assigns every id; a default would only burn a sequence number per row
ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT;

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION audit_chain_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_chain moves only with audit_log';
END $$;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_fixed();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_fixed();

-- re-hash what is there, in id order, under the new rule
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
DO $$
DECLARE
    r record;
    prev bytea := '\x';
    old_head bytea;
    last bigint := 0;
    n bigint := 0;
BEGIN
    SELECT hash INTO old_head FROM audit_log ORDER BY id DESC LIMIT 1;
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        UPDATE audit_log SET prev_hash = prev,
            hash = sha256(prev || audit_canonical(
                r.id, r.at, r.officer_id, r.action, r.subject, r.details))
        WHERE id = r.id RETURNING hash INTO prev;
        last := r.id;
        n := n + 1;
    END LOOP;
    INSERT INTO audit_chain (last_id, last_hash) VALUES (last, prev);
    IF n > 0 THEN
        INSERT INTO audit_log (officer_id, action, subject, details) VALUES (
            NULL, 'audit.rehash', 'audit_log',
            jsonb_build_object('rows', n, 'through_id', last,
                               'old_head_hash', encode(old_head, 'hex')));
    END IF;
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
