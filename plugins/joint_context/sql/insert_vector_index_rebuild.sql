-- A rebuild of the pgvector copies of the given joint types (NULL: every type): one copy per key (joint_type,
-- model_id, as_of_date, entity_scope), of its newest row (created_at desc, then joint_id desc), as every reader
-- chooses it; NULL embedding when that row's vector is NULL or unusable. Returns how many copies hold a vector.
WITH newest AS (
    SELECT DISTINCT ON (joint_type, model_id, as_of_date, entity_scope)
           joint_id, joint_type, model_id, as_of_date, entity_scope, vector
      FROM joint_embeddings
     WHERE %(joint_types)s::text[] IS NULL
        OR joint_type = ANY(%(joint_types)s::text[])
     ORDER BY joint_type, model_id, as_of_date, entity_scope, created_at DESC, joint_id DESC
), copied AS (
    INSERT INTO joint_vector_index (joint_id, joint_type, model_id, as_of_date, entity_scope, dim, embedding)
    SELECT joint_id, joint_type, model_id, as_of_date, entity_scope, vector_dims(embedding), embedding
      FROM (SELECT newest.*, joint_vector_from_float32le(newest.vector) AS embedding FROM newest) AS decoded
    RETURNING embedding IS NOT NULL AS usable
)
SELECT count(*) AS copies,
       count(*) FILTER (WHERE usable) AS usable
  FROM copied
