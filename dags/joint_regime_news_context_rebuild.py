"""
### Rebuild: regime + news text joint context (`REGIME_CONTEXT_V0`) over a date range

Recomputes `joint_regime_news_context`'s rows for every UTC day of `first_date..last_date` (inclusive) in one
run: `plan` splits the range into chunks of `chunk_days` dates, `rebuild_chunk` runs once per chunk (mapped,
spread over the workers) with the bulk command line's code (one regime query and one binary `COPY` per chunk
window, chunked transactions), and `summarize` reports the counts and fails the run if a chunk failed.
The rows are byte for byte those of one `joint_regime_news_context` run per date with the same params.

Each chunk emits the space's asset event; its `extra` names the dates written or with rows removed.
A date with bad data writes nothing, the chunk's other dates are written, and the chunk fails without retry
naming the date; a transient database error retries the chunk.

**Trigger:** `airflow dags trigger joint_regime_news_context_rebuild -c '{"first_date": "2016-01-01",
"last_date": "2025-12-31", "contexts": [{"region": "US", "language": "en"}]}'`
**Params:** `first_date`, `last_date`, `chunk_days` (default 92), then the daily DAG's own: `contexts`,
`numeric_weight`, `text_weight`, `text_model_id`, `source_type`, `joint_model_id`.
**Connections:** `runtime_db`, `historical_db`.
"""

from joint_context.dag_factory import build_rebuild_dag
from joint_context.spaces import REGIME_CONTEXT_V0

dag = build_rebuild_dag(REGIME_CONTEXT_V0, doc_md=__doc__)
