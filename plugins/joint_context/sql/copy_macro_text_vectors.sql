-- The bulk read of select_macro_text_vectors.sql: the same query (a test keeps the two identical), streamed
-- as binary COPY (timestamptz, bigint, bytea), which the driver sends with its values quoted client-side.
COPY (
    SELECT me."timestamp",
           me.event_id,
           te.vector
      FROM macro_events me
      JOIN text_embeddings te
        ON te.source_id = me.event_id::text
       AND te.source_type = %(source_type)s
       AND te.model_id = %(text_model_id)s
     WHERE me."timestamp" >= %(window_start)s
       AND me."timestamp" < %(window_end)s
       AND (%(country)s::text IS NULL OR me.country = %(country)s::text)
       AND (%(event_type)s::text IS NULL OR me.event_type = %(event_type)s::text)
     ORDER BY me."timestamp", me.event_id
) TO STDOUT (FORMAT BINARY)
