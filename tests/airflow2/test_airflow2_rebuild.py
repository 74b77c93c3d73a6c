"""The rebuild DAG on Airflow 2.11: it parses with the compat classes, maps ``rebuild_chunk`` over the planned
chunks under ``airflow dags test``, and writes exactly the rows the rebuild DAG writes on Airflow 3."""

from __future__ import annotations

import json

import pytest

from joint_context.dag_factory import rebuild_dag_id
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from tests.airflow2.test_airflow2_backfill import (  # noqa: F401 - seeded_backfill_days is a fixture
    BACKFILL_DAYS,
    reset_joint_rows,
    seeded_backfill_days,
    stored_rows,
)

REBUILD_DAG_ID = rebuild_dag_id(REGIME_MACRO_V0)
DAGS_TEST_TIMEOUT_SECONDS = 300
CONF = {"first_date": BACKFILL_DAYS[0].isoformat(), "last_date": BACKFILL_DAYS[-1].isoformat(), "chunk_days": 2}


def test_rebuild_dags_parse_on_airflow_2_11_mapped_with_the_dataset_outlet(airflow2):
    report = airflow2.probe()
    assert report["import_errors"] == {}
    for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0):
        shape = report["dags"][rebuild_dag_id(space)]
        assert shape["task_ids"] == ["plan", "rebuild_chunk", "summarize"]
        assert shape["timetable"] == "airflow.timetables.simple.NullTimetable"
        assert shape["params"][:3] == ["first_date", "last_date", "chunk_days"]
        assert shape["chunk_operator"] == "airflow.models.mappedoperator.MappedOperator"
        assert shape["chunk_outlets"] == [["airflow.datasets.Dataset", space.asset_uri]]
        assert shape["summarize_trigger_rule"] == "all_done"


@pytest.fixture
def run_airflow3_rebuild(airflow_metadata_db, databases):
    from airflow.dag_processing.dagbag import DagBag

    def run(conf: dict) -> str:
        bag = DagBag()
        assert not bag.import_errors, bag.import_errors
        dag_run = bag.dags[REBUILD_DAG_ID].test(run_conf=conf)
        return str(getattr(dag_run.state, "value", dag_run.state))

    return run


@pytest.mark.usefixtures("seeded_backfill_days")
def test_airflow2_rebuild_maps_the_chunks_fails_only_the_bad_one_and_matches_airflow3(
    airflow2, historical_conn, run_airflow3_rebuild
):
    # Airflow 2.11 records a dataset's events once the DAG processor has registered the dataset
    assert airflow2.airflow("dags", "reserialize", timeout=DAGS_TEST_TIMEOUT_SECONDS).returncode == 0
    result = airflow2.airflow("dags", "test", REBUILD_DAG_ID, "-c", json.dumps(CONF),
                              timeout=DAGS_TEST_TIMEOUT_SECONDS)
    (run_id, state), = airflow2.metadata("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (REBUILD_DAG_ID,))
    assert state == "failed", result.tail()  # the malformed vector of BACKFILL_DAYS[2]
    tries = {(task_id, map_index): (state, try_number) for task_id, map_index, state, try_number in airflow2.metadata(
        "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
        (REBUILD_DAG_ID, run_id))}
    assert tries == {("plan", -1): ("success", 1), ("rebuild_chunk", 0): ("success", 1),
                     ("rebuild_chunk", 1): ("failed", 1), ("rebuild_chunk", 2): ("success", 1),
                     ("summarize", -1): ("failed", 1)}, result.tail()
    extras = [json.loads(extra) for (extra,) in airflow2.metadata(
        "SELECT extra FROM dataset_event WHERE source_dag_id = ? AND source_run_id = ? ORDER BY id",
        (REBUILD_DAG_ID, run_id))]
    # mapped chunks run in any order: compare the events in the order of the dates they name
    assert sorted((extra["first_date"], extra["last_date"]) for extra in extras) == [
        (BACKFILL_DAYS[0].isoformat(), BACKFILL_DAYS[1].isoformat()),
        (BACKFILL_DAYS[4].isoformat(), BACKFILL_DAYS[4].isoformat())]
    airflow2_rows = stored_rows(historical_conn)

    reset_joint_rows(historical_conn)
    assert run_airflow3_rebuild(CONF) == "failed"
    assert stored_rows(historical_conn) == airflow2_rows
    assert {row[1] for row in airflow2_rows} == {BACKFILL_DAYS[0], BACKFILL_DAYS[2], BACKFILL_DAYS[4]}
