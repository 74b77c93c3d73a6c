-- MACRO text vectors of the events in [window_start, window_end) (timestamptz bounds, so the
-- session TimeZone plays no part), optionally filtered by country and event type.
-- Row: timestamp, event_id (= te.source_id, as a fixed-width bigint), vector; the bulk CLI streams it with COPY.
-- Ordered by time, then id: every reader adds a day's vectors in the same order, so its float64 sum,
-- and the stored float32 joint vector, are the same bits whichever path (DAG, bulk CLI, driver) read them.
-- Sargable on macro_events("timestamp"); text_embeddings is probed by its unique index.
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
