-- Alerts reach people who are not watching (docs/decisions/0017): a duty roster per office,
-- notification channels (signed webhooks) per office, and the deliveries made to them with
-- a receipt for every attempt. The dispatcher reads the event log after its own cursor.

-- who is on duty at an office, and how the SMS/app gateway reaches them
CREATE TABLE duty_shifts (
    id              bigserial PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id),
    officer_id      bigint NOT NULL REFERENCES officers (id),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    contact         text NOT NULL DEFAULT '',
    note            text NOT NULL DEFAULT '',
    created_by      bigint NOT NULL REFERENCES officers (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz,
    cancelled_by    bigint REFERENCES officers (id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX duty_shifts_office ON duty_shifts (jurisdiction_id, ends_at) WHERE cancelled_at IS NULL;

-- a webhook of an office: alerts at that office's rung are POSTed to it, signed with secret
CREATE TABLE notification_channels (
    id              bigserial PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id),
    name            text NOT NULL,
    url             text NOT NULL,
    -- the HMAC key: kept as given out (it signs), never answered again after creation
    secret          text NOT NULL,
    -- NULL: every alert type
    alert_types     text[],
    events          text[] NOT NULL DEFAULT '{opened,escalated}',
    enabled         boolean NOT NULL DEFAULT true,
    created_by      bigint REFERENCES officers (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_channels_office ON notification_channels (jurisdiction_id) WHERE enabled;

-- how far the dispatcher has read the event log; one row, locked by the dispatching
-- transaction, so several processes never dispatch one event twice. Events before this
-- migration are history, not news: the cursor starts at the newest.
CREATE TABLE notification_cursor (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_event_id bigint NOT NULL
);
INSERT INTO notification_cursor SELECT true, last_id FROM event_counter;

-- one message to one channel; its id is stable across retries (receivers dedupe on it).
-- event_id has no foreign key: the maintenance loop deletes old position events, and a
-- key here would make it look each one up.
CREATE TABLE notification_deliveries (
    id              bigserial PRIMARY KEY,
    channel_id      bigint NOT NULL REFERENCES notification_channels (id),
    event_id        bigint,
    event_type      text NOT NULL,
    alert_id        bigint REFERENCES alerts (id),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, event_id)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notification_deliveries_alert ON notification_deliveries (alert_id);

-- the receipt of every attempt: when, the receiver's answer (or the error), how long it took
CREATE TABLE notification_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES notification_deliveries (id),
    at          timestamptz NOT NULL,
    status_code integer,
    error       text NOT NULL DEFAULT '',
    duration_ms double precision NOT NULL
);
CREATE INDEX notification_attempts_delivery ON notification_attempts (delivery_id);
