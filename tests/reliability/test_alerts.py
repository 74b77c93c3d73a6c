"""Alerts: a run that fails for good calls the DAG's failure callback with the failing date and task, once per
failed task and only once its retries are used up; a run that succeeds calls nothing."""

from __future__ import annotations

import pytest

from devtools.seed import insert_macro_event, utc
from tests.helpers import joint_rows
from tests.reliability.conftest import DAY, seed_day
from tests.reliability.test_retries import run_and_read_tries

FAILURES: list[tuple[str, str, int, str]] = []


def record_failure(context) -> None:
    """An on_failure_callback, as a notifier is called: with the task's context."""
    FAILURES.append((context["ds"], context["ti"].task_id, context["ti"].try_number,
                     type(context.get("exception")).__name__))


@pytest.fixture
def alerting_dag(probe_dag):
    FAILURES.clear()
    return probe_dag("reliability_alerts", retries=2,
                     imports="from tests.reliability.test_alerts import record_failure",
                     factory_arguments="on_failure_callback=record_failure,")


def test_a_failing_run_calls_the_failure_callback_with_the_failing_date(
        alerting_dag, clean_databases, runtime_conn, historical_conn):
    seeded = seed_day(runtime_conn, historical_conn)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 23), vector=b"\x00" * 7, country="US")

    state, tries = run_and_read_tries(alerting_dag, seeded.params)

    assert state == "failed" and tries["extract"] == ("failed", 1)
    assert FAILURES == [(DAY.isoformat(), "extract", 1, "AirflowFailException")]
    assert joint_rows(historical_conn) == []


def test_a_successful_run_calls_no_failure_callback(alerting_dag, clean_databases, runtime_conn, historical_conn):
    seeded = seed_day(runtime_conn, historical_conn)

    state, _tries = run_and_read_tries(alerting_dag, seeded.params)

    assert state == "success"
    assert FAILURES == []
    assert len(joint_rows(historical_conn)) == 2
