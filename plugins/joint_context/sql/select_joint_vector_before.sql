-- For each series i (model_ids[i], entity_scopes[i]) of one joint type, the newest row of its latest day before
-- befores[i]: one index-backed look-back per series (LIMIT 1 stops at the first earlier day). The reader checks
-- that the row's vector decodes and, if not, asks again from that day.
SELECT series.position,
       found.joint_id,
       found.as_of_date,
       found.vector
  FROM unnest(%(model_ids)s::text[], %(entity_scopes)s::text[]::jsonb[], %(befores)s::date[])
       WITH ORDINALITY AS series(model_id, entity_scope, before, position)
 CROSS JOIN LATERAL (SELECT joint_id, as_of_date, vector
                       FROM joint_embeddings
                      WHERE joint_type = %(joint_type)s
                        AND model_id = series.model_id
                        AND entity_scope = series.entity_scope
                        AND as_of_date < series.before
                      ORDER BY as_of_date DESC, created_at DESC, joint_id DESC
                      LIMIT 1) AS found
