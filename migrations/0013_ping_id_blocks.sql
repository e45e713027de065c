-- Ingest stores a flush of pings with COPY, which costs PostgreSQL about half the CPU per row
-- of INSERT ... SELECT FROM unnest ... ON CONFLICT (ingest/store.py), but cannot say which
-- rows it inserted or which ids they got. So ingest names its rows itself: each API process
-- reserves ids a block at a time, one nextval per block, and numbers its flushes' rows from
-- it. Blocks never overlap between processes; ids stay unique and grow within a process, and
-- a restart leaves the rest of its block unused. A plain INSERT that takes the column default
-- still gets a fresh id (the first of a block of its own).
ALTER SEQUENCE pings_id_seq INCREMENT BY 65536;
