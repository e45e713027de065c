-- A delivery that tells of an alert opening or escalating is not sent once the alert is
-- resolved: it is `superseded` (docs/decisions/0035), neither delivered nor failed.
ALTER TABLE notification_deliveries DROP CONSTRAINT notification_deliveries_status_check;
ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'failed', 'superseded'));
