-- What adoption needs to know of a joint type's rows in a date range (no vector bytes): the scope as stored text,
-- so a JSON string holding JSON text stays a string.
SELECT joint_id, as_of_date, model_id, entity_scope::text, created_at, vector IS NOT NULL
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND as_of_date BETWEEN %(first_date)s AND %(last_date)s
 ORDER BY as_of_date, joint_id
