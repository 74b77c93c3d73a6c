-- Every row of the given keys of one (joint_type, model_id): key i is (as_of_dates[i], entity_scopes[i]), across
-- any number of dates. jsonb equality ignores key order and whitespace. RETURNING tells how many rows each key held
-- (legacy duplicates included). Each key is found through idx_joint_embeddings_type_date_model.
DELETE FROM joint_embeddings AS existing
 USING unnest(%(as_of_dates)s::date[], %(entity_scopes)s::text[]) AS joint_key(as_of_date, entity_scope)
 WHERE existing.joint_type = %(joint_type)s
   AND existing.model_id = %(model_id)s
   AND existing.as_of_date = joint_key.as_of_date
   AND existing.entity_scope = joint_key.entity_scope::jsonb
RETURNING existing.as_of_date, existing.entity_scope
