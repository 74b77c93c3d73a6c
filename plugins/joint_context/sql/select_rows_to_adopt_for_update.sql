-- One date's rows of a joint type, locked until the adopting transaction ends (columns as select_rows_to_adopt.sql).
SELECT joint_id, as_of_date, model_id, entity_scope::text, created_at, vector IS NOT NULL
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND as_of_date = %(as_of_date)s
 ORDER BY joint_id
   FOR UPDATE
