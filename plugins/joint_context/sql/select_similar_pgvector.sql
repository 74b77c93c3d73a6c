-- Analog-day search in the database, exact: the pgvector copies (one per key, its newest row) of one (joint_type,
-- model_id) and dimension whose entity_scope is the query's (any_region: the query's without its region), on
-- dates before the query's (include_future: every date but the query's), ordered by cosine distance (<=>) or
-- L2 distance (<->) to the query vector, then date and id. The reader re-scores the rows in float64 (as the numpy
-- path does) and keeps the top ones: `limit` leaves a margin for pgvector's float32 arithmetic.
SELECT joint_id,
       as_of_date,
       entity_scope::text AS entity_scope,
       embedding::text AS embedding
  FROM joint_vector_index
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND dim = %(dim)s
   AND as_of_date <> %(as_of_date)s
   AND (%(include_future)s::boolean OR as_of_date < %(as_of_date)s)
   AND CASE WHEN %(any_region)s::boolean
            THEN CASE WHEN jsonb_typeof(entity_scope) = 'object' AND jsonb_typeof(entity_scope -> 'region') = 'string'
                      THEN entity_scope - 'region' END = %(scope_without_region)s::text::jsonb
            ELSE entity_scope = %(entity_scope)s::text::jsonb END
 ORDER BY CASE WHEN %(by_l2)s::boolean THEN embedding <-> %(query_vector)s::text::vector
               ELSE embedding <=> %(query_vector)s::text::vector END,
          as_of_date,
          joint_id
 LIMIT %(limit)s
