"""branch_normalization through the DAG and the bulk command line: "l2" rows equal numpy under their own model id,
the default model id is refused with "l2", and the text branch's share is logged per context."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pendulum
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from tests.e2e.cli_helpers import MACRO_DAG_ID, run_main, stored_rows
from tests.helpers import expected_branches, joint_rows

DAY = date(2025, 1, 2)
L2_MODEL_ID = "joint-regime-core-l2-v1"
L2_CONF = {"branch_normalization": "l2", "joint_model_id": L2_MODEL_ID}


def raw_regime_window(rng, dimension=384) -> np.ndarray:
    """Like the upstream regime vector: ~100 closes, ~10^3 volumes, log returns, zero padding to 384."""
    closes = 100 + np.cumsum(rng.normal(size=100))
    volumes = rng.uniform(500, 2000, size=100)
    return np.concatenate([closes, volumes, np.diff(np.log(closes)), np.zeros(dimension - 299)]).astype(np.float32)


def unit_vectors(rng, count, dimension=384) -> np.ndarray:
    vectors = rng.normal(size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def realistic_day(runtime_conn, historical_conn):
    """US: a raw regime window and five unit text vectors on DAY (country US)."""
    rng = np.random.default_rng(14)
    regime, text = raw_regime_window(rng), unit_vectors(rng, 5)
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=regime)
    for index, vector in enumerate(text):
        insert_macro_event(historical_conn, timestamp=utc(DAY, 2 + index), vector=vector, country="US")
    return regime, text


def run_and_read_tries(parse_dags, conf: dict) -> tuple[str, dict[str, tuple[str, int]]]:
    """Run the macro DAG for DAY; its state and ``{task_id: (state, try_number)}``."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = parse_dags().dags[MACRO_DAG_ID]
    dag_run = dag.test(logical_date=pendulum.datetime(DAY.year, DAY.month, DAY.day, tz="UTC"), run_conf=conf)
    with create_session() as session:
        instances = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dag_run.run_id).all()
        tries = {ti.task_id: (str(getattr(ti.state, "value", ti.state)), ti.try_number) for ti in instances}
    return str(getattr(dag_run.state, "value", dag_run.state)), tries


def test_an_l2_dag_run_writes_the_numpy_vector_under_its_own_model_id(run_dag, historical_conn, realistic_day):
    regime, text = realistic_day
    assert run_dag(MACRO_DAG_ID, DAY, L2_CONF) == "success"
    (row,) = joint_rows(historical_conn)
    assert row[3] == L2_MODEL_ID
    np.testing.assert_allclose(row[4], expected_branches(regime, text, branch_normalization="l2")["joint"],
                               rtol=1e-6, atol=1e-7)


def test_none_rows_stay_the_formula_of_before_beside_the_l2_rows(run_dag, historical_conn, realistic_day):
    regime, text = realistic_day
    assert run_dag(MACRO_DAG_ID, DAY, L2_CONF) == "success"
    assert run_dag(MACRO_DAG_ID, DAY) == "success"
    rows = {row[3]: row[4] for row in joint_rows(historical_conn)}
    assert set(rows) == {"joint-regime-core-v1", L2_MODEL_ID}
    np.testing.assert_allclose(rows["joint-regime-core-v1"], expected_branches(regime, text)["joint"],
                               rtol=1e-6, atol=1e-7)
    assert not np.allclose(rows["joint-regime-core-v1"], rows[L2_MODEL_ID])


def test_an_l2_dag_run_with_the_default_model_id_fails_at_once_without_retry(
        parse_dags, clean_databases, historical_conn, realistic_day, capfd):
    state, tries = run_and_read_tries(parse_dags, {"branch_normalization": "l2"})
    assert state == "failed"
    assert tries["extract"] == ("failed", 1), "a params error must not be retried"
    task_log = "".join(capfd.readouterr())  # dag.test prints the task's failure
    assert "AirflowFailException: ParamsError: branch_normalization \"l2\" needs its own joint_model_id" in task_log
    assert "by convention 'joint-regime-core-l2-v1'" in task_log
    assert joint_rows(historical_conn) == []


def test_the_aggregate_task_logs_branch_norms_and_the_text_share(run_dag, realistic_day, caplog):
    regime, text = realistic_day
    caplog.set_level(logging.INFO, logger="joint_context")
    assert run_dag(MACRO_DAG_ID, DAY) == "success"
    expected = expected_branches(regime, text)
    line = next(record.getMessage() for record in caplog.records
                if record.name == "joint_context.pipeline" and "joint vector from regime" in record.getMessage())
    assert f"|w_num*z_num| {expected['numeric_norm']:.6g}" in line
    assert f"|w_text*z_text| {expected['text_norm']:.6g}" in line
    assert f"text share {expected['text_share']:.3g}" in line


def test_cli_backfill_l2_equals_numpy_and_verbose_shows_the_share(capsys, historical_conn, realistic_day):
    regime, text = realistic_day
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--country", "US", "--date-range", "2025-01-02",
                                 "2025-01-02", "--branch-normalization", "l2", "--joint-model-id", L2_MODEL_ID,
                                 "--no-progress", "--verbose")
    assert status == 0, err
    (row,) = joint_rows(historical_conn)
    assert row[3] == L2_MODEL_ID
    expected = expected_branches(regime, text, branch_normalization="l2")
    np.testing.assert_allclose(row[4], expected["joint"], rtol=1e-6, atol=1e-7)
    assert "written; branch norms |w_num*z_num| 0.5, |w_text*z_text| 0.5, text share 0.5" in " ".join(err.split())


def test_cli_backfill_l2_with_the_default_model_id_exits_2_naming_the_convention(capsys, historical_conn,
                                                                                 realistic_day):
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--date-range", "2025-01-02", "2025-01-02",
                                 "--branch-normalization", "l2")
    assert status == 2
    assert "branch_normalization \"l2\" needs its own joint_model_id" in err and "joint-regime-core-l2-v1" in err
    assert stored_rows(historical_conn) == []


def test_l2_refuses_a_day_whose_text_mean_is_zero_naming_the_row(capsys, runtime_conn, historical_conn):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(384))
    first = insert_macro_event(historical_conn, timestamp=utc(DAY, 3), vector=np.ones(384), country="US")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 4), vector=-np.ones(384), country="US")
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--country", "US", "--date-range",
                                 "2025-01-02", "2025-01-02", "--branch-normalization", "l2", "--joint-model-id",
                                 L2_MODEL_ID, "--no-progress")
    assert status == 1
    assert f"historical_db.text_embeddings row '{first}'" in err and "has L2 norm 0" in err
    assert stored_rows(historical_conn) == []
