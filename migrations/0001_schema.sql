-- The whole domain: registry, pings (partitioned by day of fix time), evaluation state,
-- alerts with their event outbox, and the hash-chained audit log.

CREATE TABLE jurisdictions (
    id          bigserial PRIMARY KEY,
    parent_id   bigint REFERENCES jurisdictions (id),
    level       text NOT NULL CHECK (level IN ('city', 'district', 'street')),
    name        text NOT NULL,
    code        text UNIQUE,
    -- '/1/5/12/': ancestors then self, so a subtree is one prefix match
    path        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jurisdictions_path ON jurisdictions (path text_pattern_ops);

CREATE FUNCTION jurisdictions_set_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
    ELSE
        SELECT path || NEW.id || '/' INTO NEW.path FROM jurisdictions WHERE id = NEW.parent_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER jurisdictions_path BEFORE INSERT ON jurisdictions
    FOR EACH ROW EXECUTE FUNCTION jurisdictions_set_path();

CREATE TABLE officers (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    password_hash   text NOT NULL,
    display_name    text NOT NULL DEFAULT '',
    role            text NOT NULL CHECK (role IN ('admin', 'supervisor', 'officer', 'oversight')),
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id),
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE officer_sessions (
    token_hash  bytea PRIMARY KEY,
    officer_id  bigint NOT NULL REFERENCES officers (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE TABLE persons (
    id                bigserial PRIMARY KEY,
    case_number       text NOT NULL UNIQUE,
    full_name         text NOT NULL DEFAULT '',
    supervision_level text NOT NULL CHECK (supervision_level IN ('strict', 'normal', 'lenient')),
    jurisdiction_id   bigint NOT NULL REFERENCES jurisdictions (id),
    timezone          text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX persons_jurisdiction ON persons (jurisdiction_id);

CREATE TABLE fences (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    role            text NOT NULL CHECK (role IN ('allowed', 'exclusion')),
    crs             text NOT NULL CHECK (crs IN ('wgs84', 'gcj02', 'bd09')),
    -- the GeoJSON geometry exactly as given, in `crs`; converted when indexed
    geometry        jsonb NOT NULL,
    properties      jsonb NOT NULL DEFAULT '{}',
    jurisdiction_id bigint REFERENCES jurisdictions (id),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE person_fences (
    person_id  bigint NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    fence_id   bigint NOT NULL REFERENCES fences (id),
    PRIMARY KEY (person_id, fence_id)
);
CREATE INDEX person_fences_fence ON person_fences (fence_id);

-- curfews, custom thresholds, suspension windows: one row a rule, parameters as data
CREATE TABLE person_rules (
    id          bigserial PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX person_rules_person ON person_rules (person_id) WHERE active;

-- the legal basis for monitoring (authorization); no active order, no tracking
CREATE TABLE monitoring_orders (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (id),
    kind         text NOT NULL CHECK (kind IN ('electronic_positioning', 'information_check')),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    basis        text NOT NULL DEFAULT '',
    approved_by  text NOT NULL DEFAULT '',
    created_by   bigint REFERENCES officers (id),
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX monitoring_orders_person ON monitoring_orders (person_id, ends_at);

CREATE TABLE leave_permits (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    destination  text NOT NULL DEFAULT '',
    grace_s      integer NOT NULL DEFAULT 3600 CHECK (grace_s >= 0),
    approved_by  bigint REFERENCES officers (id),
    returned_at  timestamptz,
    cancelled_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX leave_permits_person ON leave_permits (person_id, ends_at);

CREATE TABLE devices (
    id                  text PRIMARY KEY,
    person_id           bigint NOT NULL REFERENCES persons (id),
    kind                text NOT NULL CHECK (kind IN ('phone', 'wrist', 'ankle')),
    -- sha256 of a 256-bit random token: a slow hash buys nothing at that entropy
    token_hash          bytea,
    identifier_only     boolean NOT NULL DEFAULT false,
    expected_interval_s integer NOT NULL DEFAULT 60 CHECK (expected_interval_s > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    last_seen_at        timestamptz
);
CREATE UNIQUE INDEX devices_token ON devices (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX devices_person ON devices (person_id);

CREATE SEQUENCE pings_id_seq AS bigint;

-- every accepted ping, in WGS-84; partitioned by day of fix time for retention
CREATE TABLE pings (
    id          bigint NOT NULL DEFAULT nextval('pings_id_seq'),
    device_id   text NOT NULL,
    person_id   bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    accuracy_m  real NOT NULL,
    speed_mps   real,
    heading_deg real,
    battery_pct real,
    checkin     boolean NOT NULL DEFAULT false,
    tamper      boolean NOT NULL DEFAULT false,
    source      text,
    seq         bigint,
    crs_in      text NOT NULL DEFAULT 'wgs84',
    attrs       jsonb,
    PRIMARY KEY (device_id, ts, lat, lon)
) PARTITION BY RANGE (ts);
CREATE INDEX pings_person_ts ON pings (person_id, ts);
CREATE INDEX pings_id ON pings (id);
CREATE TABLE pings_default PARTITION OF pings DEFAULT;

-- creates the daily partitions covering [from_day, to_day]; called at start and daily
CREATE FUNCTION ensure_ping_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := from_day;
    made integer := 0;
    part text;
BEGIN
    WHILE d <= to_day LOOP
        part := 'pings_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF pings FOR VALUES FROM (%L) TO (%L)',
                           part, d::timestamptz, (d + 1)::timestamptz);
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;

-- per-person evaluation state machine, serialized by the geofence engine
CREATE TABLE person_state (
    person_id   bigint PRIMARY KEY REFERENCES persons (id) ON DELETE CASCADE,
    state       jsonb NOT NULL,
    last_ts     timestamptz,
    last_lat    double precision,
    last_lon    double precision,
    last_ping_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- how far each evaluator partition has committed; recovery restarts from here
CREATE TABLE stream_checkpoints (
    partition    integer PRIMARY KEY,
    last_ping_id bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    person_id        bigint NOT NULL REFERENCES persons (id),
    jurisdiction_id  bigint NOT NULL REFERENCES jurisdictions (id),
    type             text NOT NULL,
    rule_key         text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('open', 'acknowledged', 'escalated', 'resolved')),
    severity         text NOT NULL DEFAULT 'high',
    escalation_level text NOT NULL DEFAULT 'street' CHECK (escalation_level IN ('street', 'district', 'city')),
    late             boolean NOT NULL DEFAULT false,
    episode_id       text,
    opened_at        timestamptz NOT NULL,
    last_evidence_at timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  bigint REFERENCES officers (id),
    resolved_at      timestamptz,
    resolved_by      bigint REFERENCES officers (id),
    disposition      text CHECK (disposition IN ('false_alarm', 'verbal_reminder', 'admonition',
                                                 'warning', 'public_security_referral',
                                                 'revocation_referral', 'auto_cleared')),
    note             text NOT NULL DEFAULT '',
    evidence_ping_ids bigint[] NOT NULL DEFAULT '{}',
    details          jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- one open alert per person, type and rule: new evidence updates it
CREATE UNIQUE INDEX alerts_one_open ON alerts (person_id, type, rule_key) WHERE status <> 'resolved';
CREATE INDEX alerts_jurisdiction_status ON alerts (jurisdiction_id, status);

-- a single row handing out event ids; the row lock is held to commit, so ids commit in order
-- and a reader of `id > last` can never skip an event that commits later
CREATE TABLE event_counter (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_id  bigint NOT NULL
);
INSERT INTO event_counter VALUES (true, 0);

-- the hub's event log and outbox at once: every change to an alert (with who did it) and
-- throttled live positions; `id` is the WebSocket message id
CREATE TABLE events (
    id              bigint PRIMARY KEY,
    type            text NOT NULL,
    alert_id        bigint REFERENCES alerts (id),
    person_id       bigint,
    jurisdiction_id bigint NOT NULL,
    -- copied from jurisdictions.path so the hub filters by subtree without a join
    jurisdiction_path text NOT NULL,
    actor_officer_id bigint REFERENCES officers (id),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX events_unpublished ON events (id) WHERE published_at IS NULL;
CREATE INDEX events_alert ON events (alert_id);
CREATE INDEX events_created ON events (created_at);

-- append-only, hash-chained: each row's hash covers its content and the previous hash
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    officer_id  bigint REFERENCES officers (id),
    action      text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}',
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    -- serialize writers so the chain has no forks
    PERFORM pg_advisory_xact_lock(7268013);
    SELECT hash INTO prev FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(prev, '\x'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(
        concat_ws('|', NEW.id, NEW.at, NEW.officer_id, NEW.action, NEW.subject, NEW.details::text),
        'UTF8'));
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
