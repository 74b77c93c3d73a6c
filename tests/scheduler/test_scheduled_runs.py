"""Daily scheduled runs on a real Airflow 3 scheduler: the day that has just closed, and waiting for its regime.

The DAGs are the real factory's (``tests/scheduler/dags``) with a start date three days ago, so unpausing
them makes the scheduler create the run of the latest closed interval (catchup is off), and with sensor
waits of seconds instead of hours.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import expected_joint, joint_rows, random_vectors
from tests.scheduler.conftest import SCHEDULED_DAG_ID, SENSOR_TIMEOUT_DAG_ID

pytestmark = pytest.mark.scheduler


BLIP_LOGGED = "a transient error; poking again"


def allow_connections(admin_dsn: str, database: str, allowed: bool) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(database), sql.Literal(allowed)))


def only_run(runs):
    assert len(runs) == 1, runs
    return runs[0]


def test_scheduled_run_waits_for_the_regime_through_a_refused_connection_then_writes_the_day_that_has_just_closed(
        airflow_stack, data_conns, databases):
    runtime_conn, historical_conn = data_conns
    scheduled_day = airflow_stack.query("SELECT (now() AT TIME ZONE 'UTC')::date - 1 AS day")[0]["day"]
    rng = np.random.default_rng(3)
    texts = random_vectors(rng, 4)
    for day in (scheduled_day, scheduled_day + timedelta(days=1)):  # the open day's text must not count
        for index, vector in enumerate(texts):
            insert_macro_event(historical_conn, timestamp=utc(day, 3 + index), vector=vector, country="US")
    texts_of_today = random_vectors(rng, 1)
    insert_macro_event(historical_conn, timestamp=utc(scheduled_day + timedelta(days=1), 12),
                       vector=texts_of_today[0], country="US")

    airflow_stack.unpause(SCHEDULED_DAG_ID)
    run = only_run(airflow_stack.wait_for_runs(SCHEDULED_DAG_ID, lambda runs: len(runs) >= 1, timeout=120,
                                               what="the scheduler to create the latest interval's run"))
    assert run.run_type == "scheduled"
    assert run.data_interval_end - run.data_interval_start == timedelta(days=1)
    assert run.data_interval_end <= run.queued_at  # the day had closed when the run was queued

    def sensor_rescheduled_twice() -> bool:
        reschedules = airflow_stack.query(
            "SELECT count(*) AS n FROM task_reschedule tr JOIN task_instance ti ON ti.id = tr.ti_id"
            " WHERE ti.dag_id = %(dag_id)s AND ti.run_id = %(run_id)s AND ti.task_id = 'wait_for_regimes'",
            {"dag_id": SCHEDULED_DAG_ID, "run_id": run.run_id},
        )[0]["n"]
        return reschedules >= 2

    airflow_stack.wait_until(sensor_rescheduled_twice, "the sensor to poke twice without a regime", 120)
    task_instances = airflow_stack.task_instances(SCHEDULED_DAG_ID, run.run_id)
    assert task_instances["extract"]["state"] is None  # nothing ran past the sensor
    assert only_run(airflow_stack.dag_runs(SCHEDULED_DAG_ID)).state == "running"
    assert joint_rows(historical_conn) == []

    # a blip: runtime_db refuses connections for a poke; the sensor logs it and waits on, the run does not fail
    allow_connections(databases.admin_dsn, databases.runtime_name, False)
    try:
        airflow_stack.wait_until(
            lambda: BLIP_LOGGED in airflow_stack.task_log(SCHEDULED_DAG_ID, run.run_id, "wait_for_regimes"),
            "a poke to meet the refused connection", 120)
    finally:
        allow_connections(databases.admin_dsn, databases.runtime_name, True)
    assert airflow_stack.task_instances(SCHEDULED_DAG_ID, run.run_id)["wait_for_regimes"]["try_number"] == 1
    assert only_run(airflow_stack.dag_runs(SCHEDULED_DAG_ID)).state == "running"

    regime = random_vectors(rng, 1)[0]
    insert_regime(runtime_conn, region="US", as_of_date=run.as_of_date, vector=regime)
    finished = only_run(airflow_stack.wait_for_runs(
        SCHEDULED_DAG_ID, lambda runs: runs[0].state in ("success", "failed"), timeout=120,
        what="the scheduled run to finish once the regime exists",
    ))
    assert finished.state == "success"
    assert run.as_of_date in (scheduled_day, scheduled_day + timedelta(days=1))  # midnight may pass meanwhile
    rows = joint_rows(historical_conn)
    assert [(row[1], row[2]["region"]) for row in rows] == [(run.as_of_date, "US")]
    day_texts = texts if run.as_of_date == scheduled_day else np.concatenate([texts, texts_of_today])
    np.testing.assert_allclose(rows[0][4], expected_joint(regime, day_texts), rtol=1e-6, atol=1e-7)


def test_scheduled_run_fails_after_the_wait_timeout_naming_the_missing_regime(airflow_stack, data_conns):
    airflow_stack.unpause(SENSOR_TIMEOUT_DAG_ID)
    run = only_run(airflow_stack.wait_for_runs(
        SENSOR_TIMEOUT_DAG_ID, lambda runs: any(r.run_type == "scheduled" and r.state in ("success", "failed")
                                                for r in runs),
        run_type="scheduled", timeout=150, what="the scheduled run to time out in the sensor",
    ))
    assert run.state == "failed"
    task_instances = airflow_stack.task_instances(SENSOR_TIMEOUT_DAG_ID, run.run_id)
    assert task_instances["wait_for_regimes"]["state"] == "failed"
    assert task_instances["extract"]["state"] == "upstream_failed"
    log = airflow_stack.task_log(SENSOR_TIMEOUT_DAG_ID, run.run_id, "wait_for_regimes")
    assert f"Still missing in runtime_db.regimes for {run.as_of_date}" in log
    assert "region(s) ['ZZ']" in log


def test_manual_run_does_not_wait_for_a_missing_regime(airflow_stack, data_conns):
    _, historical_conn = data_conns
    # after the test DAG's start date (three days ago): earlier logical dates get no task instances
    day = airflow_stack.query("SELECT (now() AT TIME ZONE 'UTC')::date - 2 AS day")[0]["day"]
    insert_macro_event(historical_conn, timestamp=utc(day, 5), vector=np.ones(384), country="US")
    airflow_stack.unpause(SENSOR_TIMEOUT_DAG_ID)  # a paused DAG's runs do not start
    airflow_stack.airflow("dags", "trigger", SENSOR_TIMEOUT_DAG_ID, "--logical-date", utc(day).isoformat(),
                          "--run-id", "manual_no_wait")
    run = only_run(airflow_stack.wait_for_runs(
        SENSOR_TIMEOUT_DAG_ID, lambda runs: any(r.run_id == "manual_no_wait" and r.state in ("success", "failed")
                                                for r in runs),
        run_type="manual", timeout=120, what="the manual run to finish",
    ))
    assert run.state == "success"
    task_instances = airflow_stack.task_instances(SENSOR_TIMEOUT_DAG_ID, run.run_id)
    assert {task_id: ti["state"] for task_id, ti in task_instances.items()} == {
        "wait_for_regimes": "success", "extract": "success", "aggregate": "success", "write": "success"}
    assert task_instances["wait_for_regimes"]["try_number"] == 1
    assert airflow_stack.query(
        "SELECT count(*) AS n FROM task_reschedule tr JOIN task_instance ti ON ti.id = tr.ti_id"
        " WHERE ti.run_id = 'manual_no_wait'")[0]["n"] == 0
    assert "manual run: not waiting" in airflow_stack.task_log(SENSOR_TIMEOUT_DAG_ID, run.run_id, "wait_for_regimes")
    # the run read the trigger's logical date, and skipped region ZZ (no regime) instead of waiting for it
    assert f"{day} ZZ [no filters]: regime row none" in airflow_stack.task_log(
        SENSOR_TIMEOUT_DAG_ID, run.run_id, "extract")
    assert joint_rows(historical_conn) == []
