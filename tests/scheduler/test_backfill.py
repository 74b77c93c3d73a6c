"""``airflow backfill create`` on a real Airflow 3 (scheduler + api-server + LocalExecutor), as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from devtools.paths import REPO_ROOT
from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import expected_joint, joint_rows, random_vectors
from tests.scheduler.conftest import DOWNSTREAM_DAG_ID, MACRO_DAG_ID

pytestmark = pytest.mark.scheduler

FIRST = date(2025, 1, 6)
DAYS = [FIRST + timedelta(days=offset) for offset in range(5)]
WRITTEN, NO_TEXT, BAD_VECTOR, NO_REGIME = (DAYS[0], DAYS[1]), DAYS[2], DAYS[3], DAYS[4]
BACKFILL_TIMEOUT = 240
US_SCOPE = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}


def seed_five_days(runtime_conn, historical_conn) -> dict[date, tuple[np.ndarray, np.ndarray]]:
    """Two days with data, one without text, one with a malformed text vector, one without a regime."""
    rng = np.random.default_rng(2025)
    expected_inputs = {}
    for day in DAYS:
        regime = random_vectors(rng, 1)[0]
        texts = random_vectors(rng, 3)
        if day != NO_REGIME:
            insert_regime(runtime_conn, region="US", as_of_date=day, vector=regime, created_at=utc(day, 6))
        if day != NO_TEXT:
            for index, vector in enumerate(texts):
                insert_macro_event(historical_conn, timestamp=utc(day, 9 + index), vector=vector, country="US")
        if day == BAD_VECTOR:
            insert_macro_event(historical_conn, timestamp=utc(day, 20), vector=b"\x00" * 7, country="US")
        expected_inputs[day] = (regime, texts)
    return expected_inputs


def stored(historical_conn) -> list[tuple]:
    """Rows as comparable tuples: key fields plus the raw vector bytes."""
    return [(joint_type, as_of_date, scope, model_id, vector.tobytes())
            for joint_type, as_of_date, scope, model_id, vector in joint_rows(historical_conn)]


@pytest.fixture(scope="module", autouse=True)
def unpaused(airflow_stack):
    """Backfill runs of a paused DAG stay queued: unpause it once (this also starts its daily schedule)."""
    airflow_stack.unpause(MACRO_DAG_ID)


@pytest.fixture(scope="module")
def backfilled(airflow_stack, databases):
    """The five days backfilled once for the tests below (downstream DAG unpaused first, to see asset events).

    Module-scoped: ``backfill create`` over dates that already ran creates nothing (without reprocessing),
    so the tests read one backfill's outcome; the data databases are emptied here, not per test.
    """
    databases.truncate()
    with (
        psycopg.connect(databases.runtime_dsn, autocommit=True) as runtime_conn,
        psycopg.connect(databases.historical_dsn, autocommit=True) as historical_conn,
    ):
        expected_inputs = seed_five_days(runtime_conn, historical_conn)
        airflow_stack.unpause(DOWNSTREAM_DAG_ID)
        backfill_id = airflow_stack.backfill(MACRO_DAG_ID, DAYS[0], DAYS[-1], max_active_runs=3)
        runs = airflow_stack.wait_for_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)
        yield Backfilled(expected_inputs, backfill_id, runs, historical_conn)


@dataclass
class Backfilled:
    expected_inputs: dict
    backfill_id: int
    runs: list
    historical_conn: psycopg.Connection


def test_backfill_writes_one_row_per_day_with_data_and_fails_only_the_bad_day(airflow_stack, backfilled):
    historical_conn, expected_inputs, runs = backfilled.historical_conn, backfilled.expected_inputs, backfilled.runs
    states = {run.as_of_date: run.state for run in runs}
    assert states == {day: ("failed" if day == BAD_VECTOR else "success") for day in DAYS}
    assert {run.run_type for run in runs} == {"backfill"}

    rows = joint_rows(historical_conn)
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        ("REGIME_MACRO_V0", day, US_SCOPE, "joint-regime-core-v1") for day in WRITTEN]
    for row in rows:
        regime, texts = expected_inputs[row[1]]
        np.testing.assert_allclose(row[4], expected_joint(regime, texts), rtol=1e-6, atol=1e-7)

    (bad_run,) = [run for run in runs if run.as_of_date == BAD_VECTOR]
    task_instances = airflow_stack.task_instances(MACRO_DAG_ID, bad_run.run_id)
    assert task_instances["extract"]["state"] == "failed"
    assert task_instances["extract"]["try_number"] == 1  # a data error is not retried
    assert {task_instances[task]["state"] for task in ("aggregate", "write")} == {"upstream_failed"}
    assert "not a multiple of 4" in airflow_stack.task_log(MACRO_DAG_ID, bad_run.run_id, "extract")


def test_backfill_does_not_wait_for_a_missing_regime(airflow_stack, backfilled):
    (no_regime_run,) = [run for run in backfilled.runs if run.as_of_date == NO_REGIME]
    task_instances = airflow_stack.task_instances(MACRO_DAG_ID, no_regime_run.run_id)
    assert task_instances["wait_for_regimes"]["state"] == "success"
    assert task_instances["wait_for_regimes"]["try_number"] == 1
    assert "backfill run: not waiting" in airflow_stack.task_log(MACRO_DAG_ID, no_regime_run.run_id,
                                                                 "wait_for_regimes")


def test_write_task_emits_the_space_asset_and_triggers_the_downstream_dag(airflow_stack, backfilled):
    runs = backfilled.runs
    events = airflow_stack.query(
        "SELECT ae.source_dag_id, ae.source_task_id, ae.source_run_id FROM asset_event ae"
        " JOIN asset a ON a.id = ae.asset_id WHERE a.uri = %(uri)s",
        {"uri": "postgres://historical_db:5432/historical_db/public/joint_embeddings?joint_type=REGIME_MACRO_V0"},
    )
    successful_run_ids = {run.run_id for run in runs if run.state == "success"}
    assert {(event["source_dag_id"], event["source_task_id"]) for event in events} == {(MACRO_DAG_ID, "write")}
    assert {event["source_run_id"] for event in events} >= successful_run_ids
    failed_run_ids = {run.run_id for run in runs if run.state == "failed"}
    assert not failed_run_ids & {event["source_run_id"] for event in events}

    downstream_runs = airflow_stack.wait_for_runs(
        DOWNSTREAM_DAG_ID, lambda found: any(run.state == "success" for run in found), timeout=120,
        what="the downstream DAG to run on the asset",
    )
    assert {run.run_type for run in downstream_runs} == {"asset_triggered"}
    consumed = airflow_stack.query(
        "SELECT ae.source_run_id FROM dagrun_asset_event dae JOIN asset_event ae ON ae.id = dae.event_id"
        " JOIN dag_run dr ON dr.id = dae.dag_run_id WHERE dr.dag_id = %(dag_id)s",
        {"dag_id": DOWNSTREAM_DAG_ID},
    )
    assert {row["source_run_id"] for row in consumed} <= {event["source_run_id"] for event in events}
    assert consumed


def test_rerunning_the_range_with_reprocess_completed_leaves_identical_rows(airflow_stack, backfilled):
    historical_conn, first_backfill_id, first_runs = backfilled.historical_conn, backfilled.backfill_id, backfilled.runs
    first_rows = stored(historical_conn)
    second_backfill_id = airflow_stack.backfill(MACRO_DAG_ID, DAYS[0], DAYS[-1], reprocess_behavior="completed")
    assert second_backfill_id != first_backfill_id
    second_runs = airflow_stack.wait_for_backfill(second_backfill_id, timeout=BACKFILL_TIMEOUT)
    assert {run.as_of_date: run.state for run in second_runs} == {run.as_of_date: run.state for run in first_runs}
    assert len(second_runs) == len(DAYS)
    second_rows = stored(historical_conn)
    assert len(second_rows) == len(WRITTEN)
    assert second_rows == first_rows


def test_bulk_cli_over_the_same_range_rewrites_exactly_the_rows_the_backfill_wrote(backfilled):
    historical_conn = backfilled.historical_conn
    backfill_rows = stored(historical_conn)
    ids_query = "SELECT array_agg(joint_id ORDER BY joint_id) FROM joint_embeddings"
    (backfill_ids,) = historical_conn.execute(ids_query).fetchone()
    repo = REPO_ROOT
    result = subprocess.run(
        [sys.executable, "-m", "joint_context", "backfill", "--region", "US", "--country", "US",
         "--date-range", DAYS[0].isoformat(), DAYS[-1].isoformat(), "--no-progress"],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # the malformed day fails alone, as in the backfill
    assert BAD_VECTOR.isoformat() in result.stdout + result.stderr
    assert stored(historical_conn) == backfill_rows  # same keys, same vector bytes
    (rewritten_ids,) = historical_conn.execute(ids_query).fetchone()
    assert set(rewritten_ids).isdisjoint(backfill_ids), "the CLI replaced the rows, it did not leave them be"


CONF_DAYS = [date(2025, 1, 13), date(2025, 1, 14)]


def test_backfill_conf_contexts_and_weights_are_honoured(airflow_stack, data_conns):
    runtime_conn, historical_conn = data_conns
    rng = np.random.default_rng(7)
    inputs = {}
    for day in CONF_DAYS:
        regimes = {region: random_vectors(rng, 1)[0] for region in ("US", "EU")}
        text = {"US": random_vectors(rng, 2), "DE": random_vectors(rng, 3)}
        for region, vector in regimes.items():
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=vector)
        for country, vectors in text.items():
            for index, vector in enumerate(vectors):
                insert_macro_event(historical_conn, timestamp=utc(day, 10 + index), vector=vector, country=country)
        inputs[day] = (regimes, text)
    conf = {"contexts": [{"region": "EU", "country": "DE"}, {"region": "US"}], "numeric_weight": 2,
            "text_weight": 1}
    backfill_id = airflow_stack.backfill(MACRO_DAG_ID, CONF_DAYS[0], CONF_DAYS[-1], conf=conf)
    runs = airflow_stack.wait_for_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)
    assert [(run.as_of_date, run.state, run.conf) for run in runs] == [(day, "success", conf) for day in CONF_DAYS]

    rows = {(row[1], row[2]["region"]): row for row in joint_rows(historical_conn)}
    assert sorted(rows) == sorted((day, region) for day in CONF_DAYS for region in ("EU", "US"))
    for day in CONF_DAYS:
        regimes, text = inputs[day]
        assert rows[(day, "EU")][2]["macro_filters"] == {"country": "DE"}
        assert rows[(day, "US")][2]["macro_filters"] == {}
        np.testing.assert_allclose(rows[(day, "EU")][4], expected_joint(regimes["EU"], text["DE"], 2, 1),
                                   rtol=1e-6, atol=1e-7)
        all_text = np.concatenate([text["US"], text["DE"]])
        np.testing.assert_allclose(rows[(day, "US")][4], expected_joint(regimes["US"], all_text, 2, 1),
                                   rtol=1e-6, atol=1e-7)


def test_backfill_conf_breaking_the_params_schema_is_rejected_before_any_run(airflow_stack):
    day = date(2025, 1, 15)
    before = airflow_stack.query("SELECT count(*) AS n FROM backfill")[0]["n"]
    completed = airflow_stack.backfill(MACRO_DAG_ID, day, day, conf={"numeric_weight": -1}, check=False)
    assert completed.returncode != 0
    assert "numeric_weight" in completed.stdout + completed.stderr
    assert airflow_stack.query("SELECT count(*) AS n FROM backfill")[0]["n"] == before
    assert [run for run in airflow_stack.dag_runs(MACRO_DAG_ID) if run.as_of_date == day] == []


def test_backfill_conf_the_package_rejects_fails_each_run_without_retry_or_write(airflow_stack, data_conns):
    runtime_conn, historical_conn = data_conns
    day = date(2025, 1, 16)
    insert_regime(runtime_conn, region="US", as_of_date=day, vector=np.ones(384))
    insert_macro_event(historical_conn, timestamp=utc(day, 10), vector=np.ones(384), country="US")
    conf = {"contexts": [{"region": "US"}, {"region": "US"}]}  # valid JSON schema, but one scope twice
    backfill_id = airflow_stack.backfill(MACRO_DAG_ID, day, day, conf=conf)
    (run,) = airflow_stack.wait_for_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)
    assert run.state == "failed"
    task_instances = airflow_stack.task_instances(MACRO_DAG_ID, run.run_id)
    assert (task_instances["extract"]["state"], task_instances["extract"]["try_number"]) == ("failed", 1)
    assert "contexts[1] repeats contexts[0]" in airflow_stack.task_log(MACRO_DAG_ID, run.run_id, "extract")
    assert joint_rows(historical_conn) == []
