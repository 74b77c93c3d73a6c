-- The newest row of each key (model_id, entity_scope, as_of_date) of one joint type in [first_date, last_date],
-- for regions (NULL = all) and a model (NULL = all), with how many rows the key holds (legacy duplicates).
-- Only the range is read: the "previous available day" before it comes from select_joint_vector_before.sql.
-- entity_scope as text: decoded once by the reader, whatever the driver (a jsonb string stays a string).
SELECT DISTINCT ON (model_id, entity_scope, as_of_date)
       joint_id,
       as_of_date,
       entity_scope::text AS entity_scope,
       model_id,
       vector,
       count(*) OVER (PARTITION BY model_id, entity_scope, as_of_date) AS key_rows
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND as_of_date >= %(first_date)s
   AND as_of_date <= %(last_date)s
   AND (%(regions)s::text[] IS NULL OR entity_scope->>'region' = ANY(%(regions)s::text[]))
   AND (%(model_id)s::text IS NULL OR model_id = %(model_id)s::text)
 ORDER BY model_id, entity_scope, as_of_date, created_at DESC, joint_id DESC
