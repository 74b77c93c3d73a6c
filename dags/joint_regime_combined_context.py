"""
### Macro + news combined joint context (`REGIME_COMBINED_V0`)

For each UTC day and each context (a region plus the macro filters `country` / `event_type` and the news filter
`language`) this Airflow DAG combines the newest stored rows of the two other spaces (`model_id` =
`source_model_id`, `joint-regime-core-v1` by default):

    z = (w_macro * J_macro + w_news * J_news) / (w_macro + w_news)

and keeps exactly one row per key in `historical_db.joint_embeddings`
(`joint_type = 'REGIME_COMBINED_V0'`, `model_id = 'joint-regime-combined-v1'`).
A context whose macro or news row is absent that day (weekends have no macro events) is skipped, and an
earlier row of it removed. A branch weighted 0 is neither read nor required.

**Schedule:** daily (`{{ ds }}`, backfills) **or** when the macro or news DAG writes a day: such a run recomputes
every date named by the asset events that triggered it.
**Tasks:** `combine`. **Connections:** `historical_db`.
**Params:** `as_of_date` (a manual run's UTC day, else its logical date's), `contexts` (e.g.
`[{"region": "US", "country": "US", "language": "en"}]`), `macro_weight`, `news_weight`, `source_model_id`,
`joint_model_id`.
"""

from joint_context.combined_space import REGIME_COMBINED_V0
from joint_context.dag_factory import build_combined_context_dag

dag = build_combined_context_dag(REGIME_COMBINED_V0, doc_md=__doc__)
