"""Retries through Airflow (``dag.test`` honours retries): a database refusing the first attempt is retried and
the run succeeds; a data error fails the task on its first try, retries left unused.

The DAG is the factory's, with ``retry_delay=0`` (exponential backoff makes that about a second).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import numpy as np
import pendulum
import psycopg
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, utc
from tests.helpers import joint_rows
from tests.reliability.conftest import DAY, seed_day, waiting_backends

RETRIES = 3


def free_closed_port() -> int:
    """A loopback port nothing listens on (bound once to pick it, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def allow_connections(databases, allowed: bool) -> None:
    with psycopg.connect(databases.admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(databases.historical_name), sql.Literal(allowed)))


def run_and_read_tries(dag, conf: dict) -> tuple[str, dict[str, tuple[str, int]]]:
    """Run ``dag`` for DAY; return the run's state and ``{task_id: (state, try_number)}``."""
    dag_run = dag.test(logical_date=pendulum.datetime(DAY.year, DAY.month, DAY.day, tz="UTC"), run_conf=conf)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dag_run.run_id).all()
        tries = {ti.task_id: (str(getattr(ti.state, "value", ti.state)), ti.try_number) for ti in instances}
    return str(getattr(dag_run.state, "value", dag_run.state)), tries


@pytest.mark.parametrize("refusal", ["closed port", "database not accepting connections"])
def test_a_database_refusing_the_first_attempt_is_retried_and_the_run_succeeds(
    probe_dag, clean_databases, runtime_conn, historical_conn, monkeypatch, refusal
):
    seeded = seed_day(runtime_conn, historical_conn)
    working_connection = clean_databases.connection_env["AIRFLOW_CONN_HISTORICAL_DB"]
    callbacks = []

    if refusal == "closed port":
        refused = {**json.loads(working_connection), "host": "127.0.0.1", "port": free_closed_port()}
        monkeypatch.setenv("AIRFLOW_CONN_HISTORICAL_DB", json.dumps(refused))
    else:
        allow_connections(clean_databases, False)

    def database_is_back(context):  # the outage ends when Airflow schedules the retry
        callbacks.append((context["ti"].try_number, repr(context.get("exception"))))
        os.environ["AIRFLOW_CONN_HISTORICAL_DB"] = working_connection
        allow_connections(clean_databases, True)

    dag = probe_dag(f"reliability_retry_{refusal.split()[0]}", retries=RETRIES)
    dag.get_task("extract").on_retry_callback = [database_is_back]
    try:
        state, tries = run_and_read_tries(dag, seeded.params)
    finally:
        allow_connections(clean_databases, True)
    (failed_try, error), = callbacks  # exactly one failed attempt of extract, and why it failed
    assert failed_try == 1 and "OperationalError" in error
    assert ("refused" if refusal == "closed port" else "is not currently accepting connections") in error
    assert_retried_once_and_written(state, tries, historical_conn, seeded)


def assert_retried_once_and_written(state, tries, historical_conn, seeded) -> None:
    assert (state, tries["extract"], tries["write"]) == ("success", ("success", 2), ("success", 1))
    rows = {row[2]["region"]: row[4] for row in joint_rows(historical_conn)}
    assert sorted(rows) == ["EU", "US"]
    np.testing.assert_allclose(rows["US"], seeded.expected["US"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows["EU"], seeded.expected["EU"], rtol=1e-6, atol=1e-7)


def test_a_connection_reset_in_the_middle_of_a_query_is_retried_and_the_run_succeeds(
    probe_dag, clean_databases, runtime_conn, historical_conn
):
    seeded = seed_day(runtime_conn, historical_conn)
    terminated, callbacks = [], []

    def reset_the_first_text_query():  # hold the text query on a lock, then end its backend as a failover would
        with psycopg.connect(clean_databases.historical_dsn) as holder, \
                psycopg.connect(clean_databases.historical_dsn, autocommit=True) as observer:
            holder.execute("SET idle_in_transaction_session_timeout = '60s'")
            holder.execute("LOCK TABLE macro_events IN ACCESS EXCLUSIVE MODE")
            deadline = time.monotonic() + 60
            while not (waiting := waiting_backends(observer)) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pid, _query in waiting:
                terminated.append(observer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])
            holder.rollback()

    resetter = threading.Thread(target=reset_the_first_text_query, daemon=True)
    dag = probe_dag("reliability_retry_reset", retries=RETRIES)
    dag.get_task("extract").on_retry_callback = [
        lambda context: callbacks.append(repr(context.get("exception")))]
    resetter.start()
    try:
        state, tries = run_and_read_tries(dag, seeded.params)
    finally:
        resetter.join(timeout=90)
    assert terminated == [True]
    (error,) = callbacks
    assert "terminating connection due to administrator command" in error
    assert_retried_once_and_written(state, tries, historical_conn, seeded)


@pytest.mark.parametrize("data_error", ["malformed vector", "unknown conf key"])
def test_a_data_error_fails_at_once_without_using_its_retries(
    probe_dag, clean_databases, runtime_conn, historical_conn, data_error
):
    seeded = seed_day(runtime_conn, historical_conn)
    conf = seeded.params
    if data_error == "malformed vector":
        insert_macro_event(historical_conn, timestamp=utc(DAY, 23), vector=b"\x00" * 7, country="US")
    else:
        conf = {**conf, "contxts": [{"region": "US"}]}
    state, tries = run_and_read_tries(probe_dag("reliability_data_error", retries=RETRIES), conf)
    assert (state, tries["extract"]) == ("failed", ("failed", 1))
    assert joint_rows(historical_conn) == []


@pytest.mark.parametrize("breakage", ["read-only database", "a missing column"])
def test_a_database_refusing_the_write_fails_it_at_once_without_using_its_retries(
    probe_dag, clean_databases, runtime_conn, historical_conn, breakage
):
    from tests.breakages import broken

    seeded = seed_day(runtime_conn, historical_conn)
    with broken(clean_databases, breakage):
        state, tries = run_and_read_tries(probe_dag("reliability_refused_write", retries=RETRIES), seeded.params)
    assert (state, tries["extract"], tries["write"]) == ("failed", ("success", 1), ("failed", 1))
    assert joint_rows(historical_conn) == []
