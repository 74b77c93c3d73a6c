-- Whether the optional pgvector side table (include/sql/schema/optional_pgvector.sql) exists in this database:
-- a catalogue lookup, no table read. NULL from to_regclass means absent (or not on the search_path).
SELECT to_regclass(%(table_name)s) IS NOT NULL
