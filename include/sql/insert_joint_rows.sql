-- One new row per (entity_scope, vector) pair of one (joint_type, model_id, as_of_date).
INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)
SELECT %(joint_type)s, %(as_of_date)s, new_row.entity_scope::jsonb, %(model_id)s, new_row.vector
  FROM unnest(%(entity_scopes)s::text[], %(vectors)s::bytea[]) AS new_row(entity_scope, vector)
