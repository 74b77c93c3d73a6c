-- Serialise writers of one joint key for the rest of the transaction (the table has no unique key).
SELECT pg_advisory_xact_lock(%(lock_key)s)
