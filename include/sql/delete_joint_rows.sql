-- Every row of the given keys of one (joint_type, model_id, as_of_date); jsonb equality ignores key order
-- and whitespace. RETURNING tells how many rows each key held (legacy duplicates included).
DELETE FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND as_of_date = %(as_of_date)s
   AND entity_scope = ANY(%(entity_scopes)s::text[]::jsonb[])
RETURNING entity_scope
