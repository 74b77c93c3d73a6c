-- NEWS text vectors of the articles in [window_start, window_end) (timestamptz bounds, so the
-- session TimeZone plays no part), optionally filtered by language (case-insensitive).
-- Row: timestamp, article_id (= te.source_id, as a fixed-width bigint), vector; the bulk CLI streams it with COPY.
-- Ordered by time, then id: every reader adds a day's vectors in the same order, so its float64 sum,
-- and the stored float32 joint vector, are the same bits whichever path (DAG, bulk CLI, driver) read them.
-- Sargable on news_articles("timestamp"); text_embeddings is probed by its unique index.
SELECT na."timestamp",
       na.article_id,
       te.vector
  FROM news_articles na
  JOIN text_embeddings te
    ON te.source_id = na.article_id::text
   AND te.source_type = %(source_type)s
   AND te.model_id = %(text_model_id)s
 WHERE na."timestamp" >= %(window_start)s
   AND na."timestamp" < %(window_end)s
   AND (%(language)s::text IS NULL OR lower(na.language) = lower(%(language)s::text))
 ORDER BY na."timestamp", na.article_id
