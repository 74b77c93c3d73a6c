-- The candidates of an analog-day search read for the exact numpy ranking: the newest row of each key
-- (entity_scope, as_of_date) of one (joint_type, model_id) whose entity_scope is the query's (or, any_region, the
-- query's without its region: same source and filters, any region), on dates before the query's (include_future:
-- every date but the query's). A scope that is not an object with a text region never matches (guarded by CASE:
-- `-` on a JSON scalar is an error). The newest rows are chosen on narrow tuples (no vector in the sort), then
-- their vectors read by primary key; they come raw: the reader decodes them and counts the unusable ones.
-- Sorted by date first: jsonb scopes are compared only between rows of one date (five times faster).
SELECT candidate.joint_id,
       candidate.as_of_date,
       candidate.entity_scope::text AS entity_scope,
       candidate.vector
  FROM (SELECT DISTINCT ON (as_of_date, entity_scope)
               joint_id
          FROM joint_embeddings
         WHERE joint_type = %(joint_type)s
           AND model_id = %(model_id)s
           AND as_of_date <> %(as_of_date)s
           AND (%(include_future)s::boolean OR as_of_date < %(as_of_date)s)
           AND CASE WHEN %(any_region)s::boolean
                    THEN CASE WHEN jsonb_typeof(entity_scope) = 'object'
                                   AND jsonb_typeof(entity_scope -> 'region') = 'string'
                              THEN entity_scope - 'region' END = %(scope_without_region)s::text::jsonb
                    ELSE entity_scope = %(entity_scope)s::text::jsonb END
         ORDER BY as_of_date, entity_scope, created_at DESC, joint_id DESC) AS newest
  JOIN joint_embeddings AS candidate
    ON candidate.joint_id = newest.joint_id
