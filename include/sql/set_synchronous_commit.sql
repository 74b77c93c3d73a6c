-- Whether this session's commits wait for the WAL flush ('on') or not ('off'); a session setting only.
SELECT set_config('synchronous_commit', %(value)s, false)
