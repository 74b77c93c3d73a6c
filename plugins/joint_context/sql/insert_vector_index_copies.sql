-- The pgvector copies of joint rows just written (by joint_id), in the write's own transaction: a key's older
-- copies went with its older rows (ON DELETE CASCADE). The vector is decoded in the database from its float32
-- bytes (joint_vector_from_float32le, NULL when unusable).
INSERT INTO joint_vector_index (joint_id, joint_type, model_id, as_of_date, entity_scope, dim, embedding)
SELECT copied.joint_id, copied.joint_type, copied.model_id, copied.as_of_date, copied.entity_scope,
       vector_dims(copied.embedding), copied.embedding
  FROM (SELECT joint_id, joint_type, model_id, as_of_date, entity_scope,
               joint_vector_from_float32le(vector) AS embedding
          FROM joint_embeddings
         WHERE joint_id = ANY(%(joint_ids)s::bigint[])) AS copied
