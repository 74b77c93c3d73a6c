INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)
VALUES (%(joint_type)s, %(as_of_date)s, %(entity_scope)s::jsonb, %(model_id)s, %(vector)s)
