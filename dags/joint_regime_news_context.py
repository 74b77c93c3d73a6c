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
**Params:** `contexts` (e.g. `[{"region": "US", "language": "en"}]`), `numeric_weight`, `text_weight`,
`text_model_id`, `source_type`, `joint_model_id`.
"""

from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_CONTEXT_V0

dag = build_joint_context_dag(REGIME_CONTEXT_V0, doc_md=__doc__)
