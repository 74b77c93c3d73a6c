-- Every row of one joint key (jsonb equality ignores key order and whitespace).
DELETE FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND as_of_date = %(as_of_date)s
   AND entity_scope = %(entity_scope)s::jsonb
