-- Analog-day search in the database, approximate: the filters of select_similar_pgvector.sql, ordered by cosine
-- distance through the HNSW index of 384-dimensional copies (idx_joint_vector_index_hnsw_384: its expression and
-- its predicate `dim = 384` are repeated here literally, so the planner can use it). The filters are applied as
-- the index scan goes (pgvector's iterative scan, strict order, set by set_hnsw_search.sql), so a selective filter
-- still yields `limit` rows. The reader re-scores them in float64.
SELECT joint_id,
       as_of_date,
       entity_scope::text AS entity_scope,
       embedding::text AS embedding
  FROM joint_vector_index
 WHERE dim = 384
   AND joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND as_of_date <> %(as_of_date)s
   AND (%(include_future)s::boolean OR as_of_date < %(as_of_date)s)
   AND CASE WHEN %(any_region)s::boolean
            THEN CASE WHEN jsonb_typeof(entity_scope) = 'object' AND jsonb_typeof(entity_scope -> 'region') = 'string'
                      THEN entity_scope - 'region' END = %(scope_without_region)s::text::jsonb
            ELSE entity_scope = %(entity_scope)s::text::jsonb END
 ORDER BY embedding::vector(384) <=> %(query_vector)s::text::vector(384)
 LIMIT %(limit)s
