-- Fences keep every version (docs/decisions/0015): an edit makes a new version and the old
-- geometry stays readable, so an alert raised under version 3 can be read against version 3.
-- A trigger records each version, so fences made by the API, the CLI's import-fence and the
-- demo are all kept alike. The evaluators still read `fences` (the current version): its
-- `version` column is what they compare (alerts/fences.py).
CREATE TABLE fence_versions (
    fence_id    bigint NOT NULL REFERENCES fences (id),
    version     integer NOT NULL,
    name        text NOT NULL,
    crs         text NOT NULL,
    geometry    jsonb NOT NULL,
    properties  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fence_id, version)
);

INSERT INTO fence_versions (fence_id, version, name, crs, geometry, properties, created_at)
SELECT id, version, name, crs, geometry, properties, updated_at FROM fences;

CREATE FUNCTION fence_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fence_versions (fence_id, version, name, crs, geometry, properties)
    VALUES (NEW.id, NEW.version, NEW.name, NEW.crs, NEW.geometry, NEW.properties);
    RETURN NULL;
END $$;
CREATE TRIGGER fences_keep_version AFTER INSERT ON fences
    FOR EACH ROW EXECUTE FUNCTION fence_keep_version();
CREATE TRIGGER fences_keep_new_version AFTER UPDATE OF version ON fences
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION fence_keep_version();

-- retired: no longer given to anyone; persons still on it are listed to be moved off it
ALTER TABLE fences
    ADD COLUMN retired_at timestamptz,
    ADD COLUMN retired_by bigint REFERENCES officers (id),
    ADD COLUMN retire_reason text;
