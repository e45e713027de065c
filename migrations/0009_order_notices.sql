-- orders about to lapse raise a notice to the supervisor (ARCHITECTURE §8): the timers send
-- an order.lapsing event once per order, a set time before it ends, unless it was renewed
ALTER TABLE monitoring_orders ADD COLUMN lapse_noticed_at timestamptz;
CREATE INDEX monitoring_orders_lapsing ON monitoring_orders (ends_at)
    WHERE revoked_at IS NULL AND lapse_noticed_at IS NULL;
