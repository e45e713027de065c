-- Ingest caches each device and each person's order windows. It used to drop them 30 s after
-- loading, the bound on how long a revoked token still works; a fleet reporting once a
-- minute therefore paid two lookups per ping. Now every change to a device or an order is
-- stamped, ingest polls the stamps every second and forgets what changed, and its entries
-- live as long as that feed keeps answering (monitor/ingest engine). clock_timestamp(), not
-- now(): a long transaction's rows must not look older than they are.
CREATE FUNCTION stamp_changed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_at := clock_timestamp();
    RETURN NEW;
END $$;

ALTER TABLE devices ADD COLUMN changed_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE TRIGGER devices_changed BEFORE UPDATE ON devices
    FOR EACH ROW EXECUTE FUNCTION stamp_changed_at();
CREATE INDEX devices_changed ON devices (changed_at);

ALTER TABLE monitoring_orders ADD COLUMN changed_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE TRIGGER monitoring_orders_changed BEFORE UPDATE ON monitoring_orders
    FOR EACH ROW EXECUTE FUNCTION stamp_changed_at();
CREATE INDEX monitoring_orders_changed ON monitoring_orders (changed_at);
