-- Partitions used to be made only at start (two days back, seven ahead). A service up for
-- longer wrote the following days' pings into pings_default, and its next start failed: a
-- partition cannot be made for a day the default partition holds rows of. Now a day whose
-- pings are in the default partition gets its partition made beside the table, the rows
-- moved into it and the partition attached, in one transaction (and the workers now make
-- partitions ahead every hour: monitor/maintenance.py).
CREATE OR REPLACE FUNCTION ensure_ping_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := from_day;
    made integer := 0;
    part text;
BEGIN
    WHILE d <= to_day LOOP
        part := 'pings_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            IF EXISTS (SELECT 1 FROM pings_default
                       WHERE ts >= d::timestamptz AND ts < (d + 1)::timestamptz) THEN
                EXECUTE format('CREATE TABLE %I (LIKE pings INCLUDING DEFAULTS)', part);
                EXECUTE format(
                    'WITH moved AS (DELETE FROM pings_default WHERE ts >= %L AND ts < %L '
                    'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                    d::timestamptz, (d + 1)::timestamptz, part);
                EXECUTE format('ALTER TABLE pings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               part, d::timestamptz, (d + 1)::timestamptz);
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF pings FOR VALUES FROM (%L) TO (%L)',
                               part, d::timestamptz, (d + 1)::timestamptz);
            END IF;
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;
