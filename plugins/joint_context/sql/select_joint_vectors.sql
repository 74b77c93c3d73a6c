-- Joint vectors of one joint type for regions (NULL = all) in [first_date, last_date], plus, per series
-- (model_id, entity_scope), its newest row with a vector before first_date: the "previous available day"
-- of the first row shown. A key holding legacy duplicates shows its newest row and how many it holds.
WITH newest AS (
    SELECT DISTINCT ON (model_id, entity_scope, as_of_date)
           as_of_date,
           entity_scope,
           model_id,
           vector,
           count(*) OVER (PARTITION BY model_id, entity_scope, as_of_date) AS key_rows
      FROM joint_embeddings
     WHERE joint_type = %(joint_type)s
       AND as_of_date <= %(last_date)s
       AND (%(regions)s::text[] IS NULL OR entity_scope->>'region' = ANY(%(regions)s::text[]))
       AND (%(model_id)s::text IS NULL OR model_id = %(model_id)s::text)
     ORDER BY model_id, entity_scope, as_of_date, created_at DESC, joint_id DESC
)
SELECT as_of_date, entity_scope, model_id, vector, key_rows, true AS in_range
  FROM newest
 WHERE as_of_date >= %(first_date)s
UNION ALL
SELECT *
  FROM (SELECT DISTINCT ON (model_id, entity_scope)
               as_of_date, entity_scope, model_id, vector, key_rows, false AS in_range
          FROM newest
         WHERE as_of_date < %(first_date)s
           AND vector IS NOT NULL
         ORDER BY model_id, entity_scope, as_of_date DESC) AS before_range
 ORDER BY model_id, entity_scope, as_of_date
