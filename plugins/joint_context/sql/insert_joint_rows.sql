-- One new row per (as_of_date, entity_scope, vector) triple of one (joint_type, model_id), across any number of dates.
-- RETURNING: the new ids, for the pgvector copies when that optional side table exists.
INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)
SELECT %(joint_type)s, new_row.as_of_date, new_row.entity_scope::jsonb, %(model_id)s, new_row.vector
  FROM unnest(%(as_of_dates)s::date[], %(entity_scopes)s::text[], %(vectors)s::bytea[])
       AS new_row(as_of_date, entity_scope, vector)
RETURNING joint_id
