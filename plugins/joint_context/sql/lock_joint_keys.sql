-- Serialise writers of the given joint keys for the rest of the transaction (the table has no unique key).
-- The keys arrive sorted and are locked in that order (volatile calls run after the ORDER BY), so two runs
-- locking overlapping keys cannot deadlock.
SELECT pg_advisory_xact_lock(key.lock_key)
  FROM unnest(%(lock_keys)s::bigint[]) WITH ORDINALITY AS key(lock_key, position)
 ORDER BY key.position
