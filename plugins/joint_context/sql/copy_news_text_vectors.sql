-- The bulk read of select_news_text_vectors.sql: the same query (a test keeps the two identical), streamed
-- as binary COPY (timestamptz, bigint, bytea), which the driver sends with its values quoted client-side.
COPY (
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
) TO STDOUT (FORMAT BINARY)
