-- The candidates an analog-day search in the database leaves out: the copies matching the search's filters whose
-- key's newest row has no usable vector (NULL, malformed, all zeros), or a vector of another dimension than the
-- query's; with their ids. Read through idx_joint_vector_index_type_model_dim.
SELECT coalesce(array_agg(joint_id ORDER BY joint_id) FILTER (WHERE dim IS NULL), ARRAY[]::bigint[]) AS unusable,
       coalesce(array_agg(joint_id ORDER BY joint_id) FILTER (WHERE dim <> %(dim)s), ARRAY[]::bigint[]) AS other_dimension
  FROM joint_vector_index
 WHERE joint_type = %(joint_type)s
   AND model_id = %(model_id)s
   AND (dim IS NULL OR dim < %(dim)s OR dim > %(dim)s)  -- three index range conditions, not a scan
   AND as_of_date <> %(as_of_date)s
   AND (%(include_future)s::boolean OR as_of_date < %(as_of_date)s)
   AND CASE WHEN %(any_region)s::boolean
            THEN CASE WHEN jsonb_typeof(entity_scope) = 'object' AND jsonb_typeof(entity_scope -> 'region') = 'string'
                      THEN entity_scope - 'region' END = %(scope_without_region)s::text::jsonb
            ELSE entity_scope = %(entity_scope)s::text::jsonb END
