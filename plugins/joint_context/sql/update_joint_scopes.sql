-- Rewrite the entity_scope of the given rows (adoption: a kept upstream row takes the space's canonical key).
UPDATE joint_embeddings AS stored
   SET entity_scope = adopted.entity_scope::jsonb
  FROM unnest(%(joint_ids)s::bigint[], %(entity_scopes)s::text[]) AS adopted(joint_id, entity_scope)
 WHERE stored.joint_id = adopted.joint_id
