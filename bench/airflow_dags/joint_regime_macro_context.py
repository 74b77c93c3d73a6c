"""The production macro Airflow DAG, built as ``dags/joint_regime_macro_context.py`` builds it.

(The benchmark's DAG folder holds it next to its empty-task twin. The words "airflow" and "dag" must appear
in a DAG file for Airflow's safe-mode discovery to parse it.)
"""

from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_MACRO_V0

dag = build_joint_context_dag(REGIME_MACRO_V0, doc_md="Benchmark: the production macro DAG.")
