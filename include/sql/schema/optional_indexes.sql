-- Optional migration for historical_db: indexes the package's queries want.
-- Safe to run on a live database (CONCURRENTLY: run it outside a transaction, e.g. `psql -f`).
-- Without it the package is still correct; per-date reads of macro events then scan the
-- (event_type, "timestamp") index or the table, and get slower as history grows.

-- The day window on macro events: `"timestamp" >= day_start AND "timestamp" < day_end`.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_macro_events_ts ON macro_events ("timestamp");
