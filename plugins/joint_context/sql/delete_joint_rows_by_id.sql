-- Delete the given rows (adoption: the other rows of a key whose kept row is known).
DELETE FROM joint_embeddings
 WHERE joint_id = ANY(%(joint_ids)s::bigint[])
