-- The first and last as_of_date a joint type has rows for within a date range (NULLs when none).
SELECT min(as_of_date), max(as_of_date)
  FROM joint_embeddings
 WHERE joint_type = %(joint_type)s
   AND as_of_date BETWEEN %(first_date)s AND %(last_date)s
