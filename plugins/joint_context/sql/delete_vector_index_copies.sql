-- Every pgvector copy of the given joint types (NULL: of every type): the first step of a rebuild, in its
-- transaction.
DELETE FROM joint_vector_index
 WHERE %(joint_types)s::text[] IS NULL
    OR joint_type = ANY(%(joint_types)s::text[])
