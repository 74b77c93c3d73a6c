-- The query row of an analog-day search: the newest row (created_at desc, then joint_id desc) of one key
-- (joint_type, model_id, as_of_date, entity_scope), read through idx_joint_embeddings_type_date_model.
SELECT joint_id,
       vector
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND as_of_date = %(as_of_date)s
   AND entity_scope = %(entity_scope)s::text::jsonb
 ORDER BY created_at DESC, joint_id DESC
 LIMIT 1
