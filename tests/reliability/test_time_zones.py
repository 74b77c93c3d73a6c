"""The same rows whatever the session ``TimeZone`` of either database and whatever Airflow's default timezone.

The day's text rows sit right at the UTC midnights, where a local-time reading would move them to another day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, insert_regime
from joint_context.operators import AggregateJointOperator, ExtractJointInputsOperator, WriteJointEmbeddingsOperator
from joint_context.spaces import REGIME_MACRO_V0
from tests.helpers import expected_joint, joint_rows
from tests.reliability.conftest import DAY, REPO_ROOT

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham")
PARAMS = {"contexts": [{"region": "US", "country": "US"}]}


@pytest.fixture
def midnight_day(runtime_conn, historical_conn):
    """Text at the first and last minute of the UTC day and just outside it; returns the expected US vector."""
    inside = {datetime(2025, 1, 2, 0, 0, tzinfo=UTC): [1.0, 0.0],
              datetime(2025, 1, 2, 23, 59, 59, tzinfo=UTC): [0.0, 1.0]}
    outside = {datetime(2025, 1, 1, 23, 59, 59, tzinfo=UTC): [50.0, 50.0],
               datetime(2025, 1, 3, tzinfo=UTC): [-50.0, 9.0]}
    for timestamp, vector in {**inside, **outside}.items():
        insert_macro_event(historical_conn, timestamp=timestamp, vector=np.array(vector), country="US")
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.array([2.0, 4.0]))
    insert_regime(runtime_conn, region="US", as_of_date=DAY - timedelta(days=1), vector=np.array([-9.0, -9.0]))
    return expected_joint([2.0, 4.0], list(inside.values()))


def set_database_time_zones(databases, runtime_zone: str | None, historical_zone: str | None) -> None:
    """``ALTER DATABASE ... SET timezone`` (``None``: reset): every new session of the package gets it."""
    with psycopg.connect(databases.admin_dsn, autocommit=True) as admin:
        for name, zone in ((databases.runtime_name, runtime_zone), (databases.historical_name, historical_zone)):
            if zone is None:
                admin.execute(sql.SQL("ALTER DATABASE {} RESET timezone").format(sql.Identifier(name)))
            else:
                admin.execute(sql.SQL("ALTER DATABASE {} SET timezone = {}").format(
                    sql.Identifier(name), sql.Literal(zone)))
    for dsn, zone in ((databases.runtime_dsn, runtime_zone), (databases.historical_dsn, historical_zone)):
        if zone is not None:
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SHOW TimeZone").fetchone() == (zone,)


def run_tasks_in_process() -> dict:
    """extract → aggregate → write as the tasks run them (connections from ``AIRFLOW_CONN_*``)."""
    context = {"params": PARAMS, "dag_run": None}
    extracted = ExtractJointInputsOperator(task_id="extract", space=REGIME_MACRO_V0,
                                           as_of_date=DAY.isoformat()).execute(context)
    aggregated = AggregateJointOperator(task_id="aggregate", space=REGIME_MACRO_V0,
                                        extracted=extracted).execute(context)
    return WriteJointEmbeddingsOperator(task_id="write", space=REGIME_MACRO_V0, aggregated=aggregated).execute(context)


def stored_vectors(historical_conn) -> list[tuple]:
    return [(row[1], row[2]["region"], row[4].tobytes()) for row in joint_rows(historical_conn)]


@pytest.mark.parametrize(("runtime_zone", "historical_zone"), list(zip(ZONES, reversed(ZONES), strict=True)))
def test_rows_are_the_same_whatever_the_session_time_zone_of_either_database(
    clean_databases, historical_conn, midnight_day, runtime_zone, historical_zone
):
    try:
        set_database_time_zones(clean_databases, runtime_zone, historical_zone)
        summary = run_tasks_in_process()
    finally:
        set_database_time_zones(clean_databases, None, None)
    assert summary["contexts"][0]["text_vector_count"] == 2
    ((as_of_date, region, vector),) = stored_vectors(historical_conn)
    assert (as_of_date, region) == (DAY, "US")
    assert vector == midnight_day.tobytes()


DAG_IN_ANOTHER_ZONE = """
import json, sys
import pendulum
from airflow.configuration import conf
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.base import TimeRestriction

dag = DagBag().dags["joint_regime_macro_context"]
scheduled = dag.timetable.next_dagrun_info(
    last_automated_data_interval=None,
    restriction=TimeRestriction(earliest=pendulum.datetime(2025, 1, 2, tz="UTC"), latest=None, catchup=True))
run = dag.test(logical_date=pendulum.datetime(2025, 1, 2, tz="UTC"), run_conf=json.loads(sys.argv[1]))
print(json.dumps({
    "default_timezone": conf.get("core", "default_timezone"),
    "state": str(getattr(run.state, "value", run.state)),
    "scheduled_interval": [scheduled.data_interval.start.isoformat(), scheduled.data_interval.end.isoformat()],
}))
"""


def test_rows_are_the_same_whatever_airflow_default_timezone(clean_databases, airflow_metadata_db, historical_conn,
                                                             midnight_day):
    environment = {
        **os.environ, "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Pacific/Chatham",
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / folder) for folder in ("dags", ".")),
    }
    try:
        set_database_time_zones(clean_databases, "America/New_York", "Asia/Kolkata")
        completed = subprocess.run([sys.executable, "-c", DAG_IN_ANOTHER_ZONE, json.dumps(PARAMS)], env=environment,
                                   cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    finally:
        set_database_time_zones(clean_databases, None, None)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {
        "default_timezone": "Pacific/Chatham", "state": "success",
        # a scheduled run covers the UTC day, so its {{ ds }} is that UTC date
        "scheduled_interval": ["2025-01-02T00:00:00+00:00", "2025-01-03T00:00:00+00:00"],
    }
    assert stored_vectors(historical_conn) == [(DAY, "US", midnight_day.tobytes())]
