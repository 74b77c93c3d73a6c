-- Every row of the given keys of one (joint_type, model_id): key i is (as_of_dates[i], entity_scopes[i]), across
-- any number of dates, and positions[i] is the number of the key it belongs to (counting from 1): a key's rows, and
-- the rows of another case of its case-insensitive filter, share a number. jsonb equality ignores key order and
-- whitespace. RETURNING gives, per row deleted, that number: how many rows each key held (legacy duplicates
-- included).
-- Each key's rows are looked up on their own through idx_joint_embeddings_type_date_model: the LATERAL subquery,
-- kept apart by OFFSET 0, gets the key's date as an index condition whatever the statistics or the plan. (A plain
-- join can otherwise, as a generic plan of a statement the driver prepared on a table without statistics, scan
-- every row of the joint type and model once per key.)
DELETE FROM joint_embeddings AS existing
 USING (SELECT joint_key.position, found.joint_id
          FROM unnest(%(as_of_dates)s::date[], %(entity_scopes)s::text[]::jsonb[], %(positions)s::int[])
               AS joint_key(as_of_date, entity_scope, position)
         CROSS JOIN LATERAL (SELECT joint_id
                               FROM joint_embeddings
                              WHERE joint_type = %(joint_type)s
                                AND model_id = %(model_id)s
                                AND as_of_date = joint_key.as_of_date
                                AND entity_scope = joint_key.entity_scope
                             OFFSET 0) AS found) AS doomed
 WHERE existing.joint_id = doomed.joint_id
RETURNING doomed.position
