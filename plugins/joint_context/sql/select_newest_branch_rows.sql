-- The newest row of each wanted key (joint_types[i], entity_scopes[i], model_id) on each date of
-- [first_date, last_date]: what the combined space reads from the macro and news spaces' rows.
-- Newest = created_at desc, then joint_id desc (the legacy table may hold duplicates); its NULL vector means
-- "no row". entity_scope matched by jsonb equality; read through idx_joint_embeddings_type_date_model.
SELECT DISTINCT ON (wanted.position, rows.as_of_date)
       wanted.position,
       rows.as_of_date,
       rows.joint_id,
       rows.vector
  FROM unnest(%(joint_types)s::text[], %(entity_scopes)s::text[]::jsonb[])
       WITH ORDINALITY AS wanted(joint_type, entity_scope, position)
  JOIN joint_embeddings AS rows
    ON rows.joint_type = wanted.joint_type
   AND rows.entity_scope = wanted.entity_scope
 WHERE rows.model_id = %(model_id)s
   AND rows.as_of_date >= %(first_date)s
   AND rows.as_of_date <= %(last_date)s
 ORDER BY wanted.position, rows.as_of_date, rows.created_at DESC, rows.joint_id DESC
