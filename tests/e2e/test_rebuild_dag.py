"""Whole runs of the rebuild DAGs through Airflow (``dag.test``) on seeded databases: the rows of one per-date DAG
run per date and of the bulk command line, bit for bit; data errors fail only their chunk; asset events name the
dates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from joint_context.dag_factory import rebuild_dag_id
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from tests.e2e.cli_helpers import MACRO_CONTEXTS, MACRO_DAG_ID, MACRO_DATES, NEWS_DAG_ID, run_cli, stored_rows
from tests.e2e.rows import insert_joint_row, macro_scope
from tests.helpers import expected_joint

MACRO_REBUILD = rebuild_dag_id(REGIME_MACRO_V0)
NEWS_REBUILD = rebuild_dag_id(REGIME_CONTEXT_V0)
FIRST, LAST = MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat()


@pytest.fixture
def run_rebuild(parse_dags, clean_databases):
    """Trigger a rebuild DAG through ``dag.test``; return its state, ``{(task_id, map_index): (state, try)}``,
    and the asset events it emitted (``[(uri, extra)]``, in date order)."""

    def run(dag_id: str, conf: dict):
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        dag_run = parse_dags().dags[dag_id].test(run_conf=conf)
        with create_session() as session:
            instances = session.query(TaskInstance).filter(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run.run_id).all()
            tries = {(ti.task_id, ti.map_index): (str(getattr(ti.state, "value", ti.state)), ti.try_number)
                     for ti in instances}
            events = asset_events(session, dag_id, dag_run.run_id)
        return str(getattr(dag_run.state, "value", dag_run.state)), tries, events

    return run


def asset_events(session, dag_id: str, run_id: str) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent

    events = session.query(AssetEvent).filter(
        AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id).order_by(AssetEvent.id).all()
    # mapped chunks may run in any order: the events in the order of the dates they name
    return sorted(((event.asset.uri, dict(event.extra or {})) for event in events),
                  key=lambda event: event[1].get("first_date", ""))


def test_rebuild_writes_the_rows_of_one_dag_run_per_date_and_of_the_bulk_cli_bit_for_bit(
    run_dag, run_rebuild, historical_conn, macro_range
):
    regimes, text = macro_range
    stale_eu = (MACRO_DATES[1], macro_scope("EU", country="DE"))
    conf = {"contexts": MACRO_CONTEXTS, "numeric_weight": 2, "text_weight": 1}
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", *stale_eu, np.ones(384))
    states = {day: run_dag(MACRO_DAG_ID, day, conf) for day in MACRO_DATES}
    assert states == {day: "failed" if day == MACRO_DATES[3] else "success" for day in MACRO_DATES}
    per_date_rows = stored_rows(historical_conn)

    historical_conn.execute("TRUNCATE joint_embeddings")
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", *stale_eu, np.ones(384))
    cli = run_cli("backfill", "--space", MACRO_DAG_ID, "--conf", json.dumps(conf), "--date-range", FIRST, LAST)
    assert cli.returncode == 1, cli.stderr
    cli_rows = stored_rows(historical_conn)

    historical_conn.execute("TRUNCATE joint_embeddings")
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", *stale_eu, np.ones(384))
    state, _tries, _events = run_rebuild(MACRO_REBUILD, {**conf, "first_date": FIRST, "last_date": LAST,
                                                         "chunk_days": 2})
    assert state == "failed"  # MACRO_DATES[3] has a malformed vector
    rebuild_rows = stored_rows(historical_conn)

    assert rebuild_rows == per_date_rows == cli_rows
    d0, d1, _d2, _d3, d4 = MACRO_DATES
    assert [(row[1], row[2]["region"]) for row in rebuild_rows] == [(d0, "EU"), (d0, "US"), (d1, "US"), (d4, "US")]
    by_key = {(row[1], row[2]["region"]): np.frombuffer(row[4], dtype="<f4") for row in rebuild_rows}
    np.testing.assert_allclose(by_key[(d0, "EU")], expected_joint(regimes[("EU", d0)], text[("DE", d0)], 2, 1),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(by_key[(d4, "US")], expected_joint(regimes[("US", d4)], text[("US", d4)], 2, 1),
                               rtol=1e-6, atol=1e-7)


def chunk_xcoms(dag_id: str, run_id: str) -> dict[int, dict]:
    """What each chunk task instance pushed under the ``chunk`` key (failed ones included), by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id,
                                               XComModel.task_id == "rebuild_chunk", XComModel.key == "chunk").all()
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def test_a_bad_date_fails_its_chunk_without_retry_naming_it_and_the_other_dates_are_written(
    run_rebuild, historical_conn, macro_range, capfd
):
    d0, d1, d2, d3, d4 = MACRO_DATES
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d3, macro_scope("US", country="US"), np.full(384, 2.0))
    state, tries, _events = run_rebuild(MACRO_REBUILD, {"contexts": MACRO_CONTEXTS, "first_date": FIRST,
                                                        "last_date": LAST, "chunk_days": 2})
    assert state == "failed"
    assert tries == {("plan", -1): ("success", 1), ("rebuild_chunk", 0): ("success", 1),
                     ("rebuild_chunk", 1): ("failed", 1), ("rebuild_chunk", 2): ("success", 1),
                     ("summarize", -1): ("failed", 1)}, "the bad chunk used none of its retries; the others ran"
    rows = stored_rows(historical_conn)
    assert [(row[1], row[2]["region"]) for row in rows] == [(d0, "EU"), (d0, "US"), (d1, "US"), (d3, "US"),
                                                            (d4, "US")]
    np.testing.assert_array_equal(np.frombuffer(rows[3][4], dtype="<f4"), np.full(384, 2.0))  # left as it was
    logs = "".join(capfd.readouterr())  # the in-process task logs
    assert "2025-03-06: VectorDataError: historical_db.text_embeddings row" in logs
    assert "the rebuild is incomplete: bad data on 2025-03-06" in logs
    assert "3 written, 1 skipped (no data for any context), 1 failed" in logs


def test_each_chunk_emits_the_space_asset_event_naming_its_dates_and_xcom_holds_counts_only(
    run_rebuild, historical_conn, macro_range
):
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", MACRO_DATES[1], macro_scope("EU", country="DE"),
                     np.ones(384))
    last = MACRO_DATES[2].isoformat()
    state, tries, events = run_rebuild(MACRO_REBUILD, {"contexts": MACRO_CONTEXTS, "first_date": FIRST,
                                                       "last_date": last, "chunk_days": 2})
    assert state == "success" and len(tries) == 4
    d0, d1, d2 = (day.isoformat() for day in MACRO_DATES[:3])
    assert events == [
        (REGIME_MACRO_V0.asset_uri, {"first_date": d0, "last_date": d1, "dates": [d0, d1], "written": 3,
                                     "skipped": 1, "removed": 1}),
        (REGIME_MACRO_V0.asset_uri, {"first_date": d2, "last_date": d2, "dates": [], "written": 0,
                                     "skipped": 2, "removed": 0}),
    ]
    dag_run_id = latest_run_id(MACRO_REBUILD)
    pushed = json.dumps(chunk_xcoms(MACRO_REBUILD, dag_run_id))
    assert len(pushed) < 1000 and "vector" not in pushed


def test_news_rebuild_writes_the_news_dags_rows_and_a_rerun_leaves_the_same_bytes(
    run_dag, run_rebuild, historical_conn, news_range
):
    conf = {"contexts": [{"region": "US", "language": "EN"}, {"region": "EU", "language": "de"}]}
    days = MACRO_DATES[:3]
    assert {run_dag(NEWS_DAG_ID, day, conf) for day in days} == {"success"}
    per_date_rows = stored_rows(historical_conn)
    historical_conn.execute("TRUNCATE joint_embeddings")
    rebuild_conf = {**conf, "first_date": FIRST, "last_date": days[-1].isoformat()}
    first_state, _tries, first_events = run_rebuild(NEWS_REBUILD, rebuild_conf)
    first_rows = stored_rows(historical_conn)
    second_state, _tries, second_events = run_rebuild(NEWS_REBUILD, rebuild_conf)
    assert first_state == second_state == "success"
    assert stored_rows(historical_conn) == first_rows == per_date_rows and len(first_rows) == 4
    assert first_events[0][1]["written"] == second_events[0][1]["written"] == 4  # the rerun replaced each row


@pytest.mark.parametrize("bad_conf", [{"first_date": LAST, "last_date": FIRST}, {"chunk_size": 2}],
                         ids=["first_after_last", "unknown_key"])
def test_bad_range_or_conf_fails_the_plan_without_retry_and_writes_nothing(
    run_rebuild, historical_conn, macro_range, bad_conf
):
    state, tries, events = run_rebuild(MACRO_REBUILD, {"first_date": FIRST, "last_date": LAST, **bad_conf})
    assert state == "failed" and tries[("plan", -1)] == ("failed", 1)
    assert stored_rows(historical_conn) == [] and events == []


def latest_run_id(dag_id: str) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first().run_id
