-- Cancel any later statement of this session that runs longer than this many milliseconds ('0' = no limit),
-- so a pathological day fails with "canceling statement due to statement timeout" instead of hanging a worker.
SELECT set_config('statement_timeout', %(milliseconds)s, false)
