"""
### Regime + news text joint context (`REGIME_CONTEXT_V0`)

For each UTC day and each context (a region plus an optional, case-insensitive `language` filter) this Airflow
DAG fuses the newest regime embedding of `runtime_db.regimes` with the mean of that day's NEWS text
embeddings (`historical_db.text_embeddings` joined to `news_articles`):

    z_joint = (w_num * z_num + w_text * mean_i(v_i)) / (w_num + w_text)

and keeps exactly one row per key in `historical_db.joint_embeddings`
(`joint_type = 'REGIME_CONTEXT_V0'`, `model_id = 'joint-regime-core-v1'`).
A context without a regime or without text vectors that day is skipped (and an earlier row of it removed).

**Tasks:** `wait_for_regimes` (scheduled runs only) → `extract` → `aggregate` → `write`.
**Connections:** `runtime_db`, `historical_db`.
**Which day a run processes:** the UTC day of `as_of_date` when set (YYYY-MM-DD, the first field of the
trigger form), else the UTC day of the logical date, which is the run's data interval (00:00 → 24:00 UTC).
The trigger form's date picker follows the browser's time zone: set `as_of_date` to be sure of the day.
A scheduled run covers the day that has just closed, a backfill run each day of its range.

**Params:** `as_of_date`, `contexts` (e.g. `[{"region": "US", "language": "en"}]`), `numeric_weight`, `text_weight`,
`text_model_id`, `source_type`, `joint_model_id`.
"""

from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_CONTEXT_V0

dag = build_joint_context_dag(REGIME_CONTEXT_V0, doc_md=__doc__)
