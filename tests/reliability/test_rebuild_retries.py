"""Retries of the rebuild DAG's chunks through Airflow (``dag.test``): a transient database error retries the chunk
and the run succeeds with the right rows; the other chunks are not held up.

The DAG is the factory's rebuild DAG under another id, with ``retry_delay=0``, in a bundle of its own.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.helpers import joint_rows
from tests.reliability.conftest import DAY, seed_day

PROBE_REBUILD_DAG_FILE = '''
"""An Airflow DAG: the factory's rebuild DAG under another id, with test-sized retry settings."""
import dataclasses
from datetime import timedelta

from joint_context.dag_factory import build_rebuild_dag
from joint_context.spaces import REGIME_MACRO_V0

dag = build_rebuild_dag(dataclasses.replace(REGIME_MACRO_V0, dag_id={dag_id!r}), doc_md="reliability probe",
                        retries=3, retry_delay=timedelta(0))
'''


@pytest.fixture
def probe_rebuild_dag(airflow_metadata_db, tmp_path, monkeypatch):
    """The factory's rebuild DAG ``<dag_id>_rebuild`` with ``retry_delay=0``, in a bundle ``dag.test`` finds."""
    from airflow.configuration import conf

    def build(dag_id: str):
        bundle = tmp_path / f"bundle_{dag_id}"
        bundle.mkdir()
        (bundle / f"{dag_id}_rebuild.py").write_text(PROBE_REBUILD_DAG_FILE.format(dag_id=dag_id))
        bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))
        bundles = [b for b in bundles if b["name"] == "dags-folder"] + [{
            "name": f"reliability-{dag_id}", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(bundle), "refresh_interval": 0},
        }]
        monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        namespace: dict = {}
        path = bundle / f"{dag_id}_rebuild.py"
        exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
        return namespace["dag"]

    return build


def allow_connections(databases, allowed: bool) -> None:
    with psycopg.connect(databases.admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(databases.historical_name), sql.Literal(allowed)))


def test_a_database_refusing_a_chunks_first_attempt_retries_that_chunk_and_the_run_succeeds(
    probe_rebuild_dag, clean_databases, runtime_conn, historical_conn
):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    days = [DAY, DAY + timedelta(days=1)]
    seeded = [seed_day(runtime_conn, historical_conn, day, seed=index) for index, day in enumerate(days)]
    callbacks = []

    def database_is_back(context):  # the outage ends when Airflow schedules the first retry
        callbacks.append((context["ti"].map_index, context["ti"].try_number, repr(context.get("exception"))))
        allow_connections(clean_databases, True)

    dag = probe_rebuild_dag("reliability_rebuild_retry")
    dag.get_task("rebuild_chunk").on_retry_callback = [database_is_back]
    conf = {**seeded[0].params, "first_date": days[0].isoformat(), "last_date": days[1].isoformat(), "chunk_days": 1}
    allow_connections(clean_databases, False)
    try:
        dag_run = dag.test(run_conf=conf)
    finally:
        allow_connections(clean_databases, True)
    with create_session() as session:
        tries = {(ti.task_id, ti.map_index): (str(getattr(ti.state, "value", ti.state)), ti.try_number)
                 for ti in session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id,
                                                              TaskInstance.run_id == dag_run.run_id)}
    # exactly one failed attempt, and why: that of whichever chunk ran first (mapped chunks run in any order)
    ((map_index, failed_try, error),) = callbacks
    assert map_index in (0, 1) and failed_try == 1 and "is not currently accepting connections" in error
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"
    assert tries[("rebuild_chunk", map_index)] == ("success", 2)
    assert tries[("rebuild_chunk", 1 - map_index)] == ("success", 1)
    rows = {(row[1], row[2]["region"]): row[4] for row in joint_rows(historical_conn)}
    assert sorted(rows) == [(day, region) for day in days for region in ("EU", "US")]
    for day, expected in zip(days, seeded, strict=True):
        for region in ("US", "EU"):
            np.testing.assert_allclose(rows[(day, region)], expected.expected[region], rtol=1e-6, atol=1e-7)
