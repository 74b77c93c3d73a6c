-- The scopes of one (joint_type, model_id) on the given dates whose case-insensitive filter (filters_key ->
-- filter_name) is not in lower case: keys an earlier writer made in another case, which the canonical (lower case)
-- key replaces. Read through idx_joint_embeddings_type_date_model; a scope without that filter gives NULL: not read.
SELECT DISTINCT as_of_date,
       entity_scope::text
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND as_of_date = ANY(%(as_of_dates)s::date[])
   AND entity_scope -> %(filters_key)s ->> %(filter_name)s <> lower(entity_scope -> %(filters_key)s ->> %(filter_name)s)
