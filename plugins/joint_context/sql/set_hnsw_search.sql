-- pgvector's HNSW search settings for the rest of this transaction (set_config(..., true) = SET LOCAL): an
-- iterative scan in strict distance order, so rows the filters reject do not shrink the result (pgvector >= 0.8);
-- no explicit sort, so the planner takes the HNSW index's order rather than a btree read of the filters and a
-- sort of every candidate (the exact search); and the size of the candidate list (hnsw.ef_search).
SELECT set_config('hnsw.iterative_scan', 'strict_order', true),
       set_config('enable_sort', 'off', true),
       set_config('hnsw.ef_search', %(ef_search)s, true)
