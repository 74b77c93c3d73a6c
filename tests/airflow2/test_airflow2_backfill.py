"""The same ``dags/`` and ``plugins/`` on Airflow 2.11 (psycopg2), run the way users run them there.

``airflow dags backfill`` over five seeded days (one written with legacy duplicates, one without text, one
with a malformed vector, one without a regime, one plain) must leave the rows an independent numpy computation
predicts, fail only the bad day's run, and write exactly the rows (same keys, same vector bytes) that Airflow 3
and the bulk CLI write for the same data.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.combined_space import REGIME_COMBINED_V0
from joint_context.dag_factory import rebuild_dag_id
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, SPACES, canonical_json
from tests.helpers import expected_joint, random_vectors

DAG_ID = REGIME_MACRO_V0.dag_id
JOINT_TYPE = REGIME_MACRO_V0.joint_type
MODEL_ID = REGIME_MACRO_V0.default_joint_model_id
BACKFILL_DAYS = [date(2025, 1, 2) + timedelta(days=offset) for offset in range(5)]
WRITTEN_DAY, NO_TEXT_DAY, BAD_VECTOR_DAY, NO_REGIME_DAY, PLAIN_DAY = BACKFILL_DAYS
US_SCOPE = REGIME_MACRO_V0.entity_scope("US", {"country": "US"})  # the DAG's default context
BACKFILL_TIMEOUT_SECONDS = 300
DAGS_TEST_TIMEOUT_SECONDS = 120
CLI_TIMEOUT_SECONDS = 120
LEGACY_VECTOR = np.arange(4, dtype="<f4").tobytes()


def run_id(day: date) -> str:
    return f"backfill__{day.isoformat()}T00:00:00+00:00"


def stored_rows(historical_conn) -> list[tuple]:
    """Every joint row as ``(joint_type, as_of_date, entity_scope, model_id, vector bytes)``, in a fixed order."""
    rows = historical_conn.execute(
        "SELECT joint_type, as_of_date, entity_scope, model_id, vector FROM joint_embeddings"
        " ORDER BY joint_type, as_of_date, entity_scope::text, model_id, vector"
    ).fetchall()
    return [(joint_type, as_of_date, scope, model_id, bytes(vector))
            for joint_type, as_of_date, scope, model_id, vector in rows]


def insert_joint_row(historical_conn, as_of_date: date, vector: bytes, scope: dict = US_SCOPE) -> None:
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " VALUES (%s, %s, %s::jsonb, %s, %s)",
        (JOINT_TYPE, as_of_date, canonical_json(scope), MODEL_ID, vector),
    )


def reset_joint_rows(historical_conn) -> None:
    """The legacy rows both Airflow versions start from: duplicates of one key, a stale row, a row to keep."""
    historical_conn.execute("TRUNCATE joint_embeddings RESTART IDENTITY")
    insert_joint_row(historical_conn, WRITTEN_DAY, LEGACY_VECTOR)
    insert_joint_row(historical_conn, WRITTEN_DAY, LEGACY_VECTOR)  # the legacy table has no unique key
    insert_joint_row(historical_conn, NO_TEXT_DAY, LEGACY_VECTOR)  # its source has gone: must be removed
    insert_joint_row(historical_conn, BAD_VECTOR_DAY, LEGACY_VECTOR)  # the failing run must leave it


@pytest.fixture
def seeded_backfill_days(runtime_conn, historical_conn) -> dict[date, np.ndarray]:
    """Five days of US regimes and macro text; returns the joint vector numpy expects per written day."""
    rng = np.random.default_rng(2011)
    expected = {}
    for day in BACKFILL_DAYS:
        regime = random_vectors(rng, 1)[0]
        if day != NO_REGIME_DAY:
            insert_regime(runtime_conn, region="US", as_of_date=day, vector=regime, created_at=utc(day, 6))
        if day == WRITTEN_DAY:  # an older regime row of the same day loses to the newer one
            insert_regime(runtime_conn, region="US", as_of_date=day, vector=random_vectors(rng, 1)[0],
                          created_at=utc(day, 1))
        insert_regime(runtime_conn, region="EU", as_of_date=day, vector=random_vectors(rng, 1)[0])
        if day == NO_TEXT_DAY:
            continue
        us_text = random_vectors(rng, 3)
        for index, vector in enumerate(us_text):
            insert_macro_event(historical_conn, timestamp=utc(day, 1 + index * 5), vector=vector, country="US")
        insert_macro_event(historical_conn, timestamp=utc(day, 9), vector=random_vectors(rng, 1)[0], country="DE")
        insert_macro_event(historical_conn, timestamp=utc(day, 10), vector=None, country="US")
        if day == BAD_VECTOR_DAY:
            insert_macro_event(historical_conn, timestamp=utc(day, 23, 59), vector=b"\x00" * 7, country="US")
        if day in (WRITTEN_DAY, PLAIN_DAY):
            expected[day] = expected_joint(regime, us_text)
    reset_joint_rows(historical_conn)
    return expected


@pytest.fixture
def run_airflow3_dag(airflow_metadata_db, databases):
    """Run a DAG for one as_of_date on Airflow 3 (``dag.test`` in this process) and return the run's state."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    def run(dag_id: str, as_of_date: date, conf: dict | None = None) -> str:
        bag = DagBag()  # parsed afresh each time, as a task process would
        assert not bag.import_errors, bag.import_errors
        logical_date = pendulum.datetime(as_of_date.year, as_of_date.month, as_of_date.day, tz="UTC")
        dag_run = bag.dags[dag_id].test(logical_date=logical_date, run_conf=conf)
        return str(getattr(dag_run.state, "value", dag_run.state))

    return run


def test_dag_files_import_on_airflow_2_11_with_the_compat_classes(airflow2):
    report = airflow2.probe()
    assert report["airflow_version"].startswith("2.11.")
    assert report["plugins"] == {"import_errors": {}, "package_files_loaded_as_plugins": []}
    assert report["import_errors"] == {}
    assert report["compat"]["AIRFLOW_V_3_0_PLUS"] is False
    assert report["own_deprecations"] == []  # no RemovedInAirflow3Warning or other from our code on 2.11
    assert report["compat"]["Asset"] == "airflow.datasets.Dataset"
    assert report["compat"]["BaseOperator"] == "airflow.models.baseoperator.BaseOperator"
    assert set(report["dags"]) == ({space.dag_id for space in (*SPACES.values(), REGIME_COMBINED_V0)}
                                   | {rebuild_dag_id(space) for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0)})
    assert report["dags"][REGIME_COMBINED_V0.dag_id] == {
        "task_ids": ["combine"], "timetable": "airflow.timetables.datasets.DatasetOrTimeSchedule",
        "inner_timetable": "joint_context.timetables.ProcessedDayTimetable",
        "dataset_uris": sorted(space.asset_uri for space in SPACES.values()), "catchup": False,
        "params": ["as_of_date", "contexts", "joint_model_id", "macro_weight", "news_weight", "source_model_id"],
        "retries": {"combine": 3}}
    for space in SPACES.values():
        shape = report["dags"][space.dag_id]
        assert shape["task_ids"][-3:] == ["extract", "aggregate", "write"]
        assert shape["timetable"] == "joint_context.timetables.ProcessedDayTimetable"  # registered by the plugin
        assert all(shape["retries"][task_id] >= 1 for task_id in ("extract", "aggregate", "write"))
        assert shape["write_outlets"] == [["airflow.datasets.Dataset", space.asset_uri]]
        downstream = report["downstream"][space.joint_type]
        assert downstream == {"timetable": "airflow.timetables.simple.DatasetTriggeredTimetable",
                              "dataset_uris": [space.asset_uri]}


def test_airflow2_backfill_writes_days_with_data_skips_the_rest_fails_only_the_bad_day_and_matches_airflow3_and_cli(
    airflow2, seeded_backfill_days, historical_conn, run_airflow3_dag
):
    result = airflow2.airflow(
        "dags", "backfill", "-s", BACKFILL_DAYS[0].isoformat(), "-e", BACKFILL_DAYS[-1].isoformat(), DAG_ID,
        timeout=BACKFILL_TIMEOUT_SECONDS,
    )

    # Airflow 2.11's backfill exits 1 (BackfillUnfinished) when any run fails; the other runs still complete.
    assert result.returncode == 1, result.tail()
    assert "Some task instances failed" in result.output, result.tail()
    run_states = dict(airflow2.metadata(
        "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", (DAG_ID,)))
    assert run_states == {run_id(day): ("failed" if day == BAD_VECTOR_DAY else "success") for day in BACKFILL_DAYS}
    bad_day_tasks = {task_id: (state, try_number) for task_id, state, try_number in airflow2.metadata(
        "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
        (DAG_ID, run_id(BAD_VECTOR_DAY)))}
    assert bad_day_tasks["extract"] == ("failed", 1), "a malformed vector must fail at once, without retries"
    assert bad_day_tasks["aggregate"][0] == bad_day_tasks["write"][0] == "upstream_failed"

    airflow2_rows = stored_rows(historical_conn)
    assert [(row[1], row[2]) for row in airflow2_rows] == [
        (WRITTEN_DAY, US_SCOPE), (BAD_VECTOR_DAY, US_SCOPE), (PLAIN_DAY, US_SCOPE),
    ]
    assert all(row[0] == JOINT_TYPE and row[3] == MODEL_ID for row in airflow2_rows)
    by_day = {row[1]: np.frombuffer(row[4], dtype="<f4") for row in airflow2_rows}
    for day, expected in seeded_backfill_days.items():
        np.testing.assert_allclose(by_day[day], expected, rtol=1e-6, atol=1e-7)
    assert airflow2_rows[1][4] == LEGACY_VECTOR, "the failed day's earlier row must be left as it was"

    # Airflow 3 on the same data, from the same starting rows: the same rows, byte for byte.
    reset_joint_rows(historical_conn)
    airflow3_states = {day: run_airflow3_dag(DAG_ID, day) for day in BACKFILL_DAYS}
    assert airflow3_states == {day: ("failed" if day == BAD_VECTOR_DAY else "success") for day in BACKFILL_DAYS}
    assert stored_rows(historical_conn) == airflow2_rows

    # The bulk CLI on Airflow 2.11's interpreter (psycopg2), same range and context: the same rows again.
    reset_joint_rows(historical_conn)
    cli = airflow2.python_module(
        "joint_context", "backfill", "--region", "US", "--country", "US",
        "--date-range", BACKFILL_DAYS[0].isoformat(), BACKFILL_DAYS[-1].isoformat(), timeout=CLI_TIMEOUT_SECONDS,
    )
    assert cli.returncode == 1, cli.tail()  # 1: some dates failed on bad data, the others were written
    assert stored_rows(historical_conn) == airflow2_rows


DAGS_TEST_DAY = date(2025, 2, 3)


@pytest.fixture
def seeded_dags_test_day(runtime_conn, historical_conn) -> dict:
    """US and EU regimes and macro text of several countries on DAGS_TEST_DAY."""
    rng = np.random.default_rng(211)
    regimes = {region: random_vectors(rng, 1)[0] for region in ("US", "EU")}
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=DAGS_TEST_DAY, vector=vector)
    text = {"US": random_vectors(rng, 4), "DE": random_vectors(rng, 2)}
    for country, vectors in text.items():
        for index, vector in enumerate(vectors):
            insert_macro_event(historical_conn, timestamp=utc(DAGS_TEST_DAY, 3 + index), vector=vector,
                               country=country)
    return {"regimes": regimes, "text": text}


def test_airflow2_dags_test_honours_conf_contexts_and_weights(airflow2, seeded_dags_test_day, historical_conn):
    conf = {"contexts": [{"region": "EU", "country": "DE"}, {"region": "US"}], "numeric_weight": 2, "text_weight": 1}
    result = airflow2.airflow("dags", "test", DAG_ID, DAGS_TEST_DAY.isoformat(), "-c", json.dumps(conf),
                              timeout=DAGS_TEST_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.tail()

    rows = {row[2]["region"]: row for row in stored_rows(historical_conn)}
    assert set(rows) == {"EU", "US"}
    assert rows["EU"][2] == REGIME_MACRO_V0.entity_scope("EU", {"country": "DE"})
    assert rows["US"][2] == REGIME_MACRO_V0.entity_scope("US", {})
    assert {row[1] for row in rows.values()} == {DAGS_TEST_DAY}
    regimes, text = seeded_dags_test_day["regimes"], seeded_dags_test_day["text"]
    np.testing.assert_allclose(np.frombuffer(rows["EU"][4], dtype="<f4"),
                               expected_joint(regimes["EU"], text["DE"], 2, 1), rtol=1e-6, atol=1e-7)
    all_text = np.concatenate([text["US"], text["DE"]])
    np.testing.assert_allclose(np.frombuffer(rows["US"][4], dtype="<f4"),
                               expected_joint(regimes["US"], all_text, 2, 1), rtol=1e-6, atol=1e-7)


def test_airflow2_dags_test_rejects_an_unknown_conf_key_before_any_write(
    airflow2, seeded_dags_test_day, historical_conn
):
    result = airflow2.airflow("dags", "test", DAG_ID, DAGS_TEST_DAY.isoformat(), "-c",
                              json.dumps({"contxts": [{"region": "US"}]}), timeout=DAGS_TEST_TIMEOUT_SECONDS)
    assert result.returncode == 1, result.tail()
    assert "ParamsError: unknown key(s) in conf: ['contxts']" in result.output
    assert stored_rows(historical_conn) == []
