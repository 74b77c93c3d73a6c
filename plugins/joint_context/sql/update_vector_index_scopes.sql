-- The pgvector copies of the rows whose entity_scope adoption rewrote take the new scope (joint_id and vector stay),
-- in the adopting transaction.
UPDATE joint_vector_index AS copy
   SET entity_scope = stored.entity_scope
  FROM joint_embeddings AS stored
 WHERE copy.joint_id = stored.joint_id
   AND copy.joint_id = ANY(%(joint_ids)s::bigint[])
