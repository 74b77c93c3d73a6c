"""Test-only DAGs, copied next to the real DAG files into the scheduler tests' dags folder.

Built by the real factory, changed only where a test needs seconds instead of hours: a start date near
today (so the scheduler's latest interval is yesterday) and short sensor waits. Each has an asset URI of
its own, so only the real DAG triggers the downstream DAG.

Pokes stay 15 s apart: with a reschedule-mode sensor, a poke that starts before the scheduler has handled the
previous poke's executor event gets the task marked failed (apache/airflow#71172, open in 3.3), and this
shared 2-core machine can take several seconds to handle an event.
"""

import dataclasses
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator

from joint_context.compat import DAG, Asset
from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_MACRO_V0

THREE_DAYS_AGO = pendulum.now("UTC").start_of("day").subtract(days=3)
TEST_ASSET_PREFIX = "postgres://historical_db:5432/historical_db/public/joint_embeddings?joint_type=REGIME_MACRO_V0&dag="

scheduled_macro = build_joint_context_dag(
    dataclasses.replace(REGIME_MACRO_V0, dag_id="jc_test_scheduled_macro",
                        asset_uri=TEST_ASSET_PREFIX + "jc_test_scheduled_macro"),
    doc_md="The macro DAG on its daily timetable, starting three days ago; waits up to 5 minutes, poking every 15 s.",
    start_date=THREE_DAYS_AGO,
    wait_poke_interval=timedelta(seconds=15),
    wait_timeout=timedelta(minutes=5),
)

sensor_timeout_macro = build_joint_context_dag(
    dataclasses.replace(REGIME_MACRO_V0, dag_id="jc_test_sensor_timeout", default_contexts=({"region": "ZZ"},),
                        asset_uri=TEST_ASSET_PREFIX + "jc_test_sensor_timeout"),
    doc_md="The macro DAG for region ZZ, which never has a regime; gives up waiting after 10 s (its second poke).",
    start_date=THREE_DAYS_AGO,
    wait_poke_interval=timedelta(seconds=15),
    wait_timeout=timedelta(seconds=10),
)

with DAG(
    dag_id="jc_test_downstream_of_macro",
    doc_md="A consumer of fresh REGIME_MACRO_V0 vectors: scheduled on the real DAG's asset.",
    schedule=[Asset(REGIME_MACRO_V0.asset_uri)],
    start_date=THREE_DAYS_AGO,
    catchup=False,
    tags=["test"],
) as downstream_of_macro:
    EmptyOperator(task_id="consume_fresh_joint_vectors")
