"""``joint_regime_combined_context`` through Airflow: the base spaces' write tasks name the date in their asset
events, and the combined task computes the run's date, or every date the triggering events name, once each."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_news_article, insert_regime, utc
from joint_context.combine_operator import CombineJointSpacesOperator
from joint_context.combined_space import REGIME_COMBINED_V0
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import random_vectors

DAY = date(2025, 1, 2)
COMBINED_US = {"region": "US", "source": "macro+news", "macro_filters": {"country": "US"}, "news_filters": {}}


def stored_vector(historical_conn, joint_type: str, scope: dict, day: date) -> np.ndarray:
    rows = historical_conn.execute(
        "SELECT vector FROM joint_embeddings WHERE joint_type = %s AND as_of_date = %s AND entity_scope = %s::jsonb",
        (joint_type, day, json.dumps(scope))).fetchall()
    assert len(rows) == 1, f"{len(rows)} {joint_type} rows for {scope} on {day}"
    return np.frombuffer(rows[0][0], dtype="<f4")


def expected_combined(macro: np.ndarray, news: np.ndarray, macro_weight=0.5, news_weight=0.5) -> np.ndarray:
    macro, news = macro.astype(np.float64), news.astype(np.float64)
    return ((macro_weight * macro + news_weight * news) / (macro_weight + news_weight)).astype(np.float32)


def seed_inputs(runtime_conn, historical_conn, days: list[date], rng) -> None:
    for day in days:
        insert_regime(runtime_conn, region="US", as_of_date=day, vector=random_vectors(rng, 1, 8)[0])
        insert_macro_event(historical_conn, timestamp=utc(day, 9), vector=random_vectors(rng, 1, 8)[0], country="US")
        insert_news_article(historical_conn, timestamp=utc(day, 10), vector=random_vectors(rng, 1, 8)[0])


def asset_event_extras(dag_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_dag_id == dag_id).all()
        return [dict(event.extra) for event in events]


def test_the_base_write_tasks_name_the_date_and_the_combined_run_matches_numpy(
        run_dag, runtime_conn, historical_conn):
    seed_inputs(runtime_conn, historical_conn, [DAY], np.random.default_rng(21))
    assert run_dag(REGIME_MACRO_V0.dag_id, DAY) == "success"
    assert run_dag(REGIME_CONTEXT_V0.dag_id, DAY) == "success"
    expected_extra = {"as_of_date": DAY.isoformat(), "written": 1, "skipped": 0, "removed": 0}
    assert expected_extra in asset_event_extras(REGIME_MACRO_V0.dag_id)
    assert expected_extra in asset_event_extras(REGIME_CONTEXT_V0.dag_id)
    assert run_dag(REGIME_COMBINED_V0.dag_id, DAY) == "success"
    macro = stored_vector(historical_conn, "REGIME_MACRO_V0", macro_scope("US", country="US"), DAY)
    news = stored_vector(historical_conn, "REGIME_CONTEXT_V0", news_scope("US"), DAY)
    np.testing.assert_allclose(stored_vector(historical_conn, "REGIME_COMBINED_V0", COMBINED_US, DAY),
                               expected_combined(macro, news), rtol=1e-6, atol=1e-7)


def test_a_manual_run_with_as_of_date_combines_that_day_and_its_interval_is_the_day_of_its_logical_date(
        run_dag, historical_conn):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    rng = np.random.default_rng(23)
    macro, news = random_vectors(rng, 2, 8)
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", DAY, macro_scope("US", country="US"), macro)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", DAY, news_scope("US"), news)
    logical_day = DAY + timedelta(days=5)
    assert run_dag(REGIME_COMBINED_V0.dag_id, logical_day, {"as_of_date": DAY.isoformat()}) == "success"
    np.testing.assert_allclose(stored_vector(historical_conn, "REGIME_COMBINED_V0", COMBINED_US, DAY),
                               expected_combined(macro, news), rtol=1e-6, atol=1e-7)
    assert historical_conn.execute("SELECT count(*) FROM joint_embeddings WHERE as_of_date = %s",
                                   (logical_day,)).fetchone() == (0,)
    with create_session() as session:
        dag_run = session.query(DagRun).filter(DagRun.dag_id == REGIME_COMBINED_V0.dag_id).order_by(
            DagRun.id.desc()).first()  # this test's run: the newest
        interval = (dag_run.data_interval_start.date(), dag_run.data_interval_end.date())
    assert dag_run.conf == {"as_of_date": DAY.isoformat()}
    assert interval == (logical_day, logical_day + timedelta(days=1)), "a manual run covers its logical date's day"


def triggering_asset_events(extras_by_space: list[tuple]) -> object:
    """What Airflow 3 puts in ``context["triggering_asset_events"]``, built from the same classes."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    events = []
    for space, extras in extras_by_space:
        for extra in extras:
            events.append(AssetEventDagRunReferenceResult(
                asset={"name": space.asset_uri, "uri": space.asset_uri, "extra": {}}, extra=extra,
                source_task_id="write", source_dag_id=space.dag_id, source_run_id="r", source_map_index=-1,
                source_aliases=[], timestamp=datetime.now(UTC)))
    return TriggeringAssetEventsAccessor.build(events)


def test_an_asset_triggered_run_recomputes_each_date_its_events_name_once(clean_databases, historical_conn):
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    rng = np.random.default_rng(22)
    vectors = {}
    for day in days:
        vectors[day] = random_vectors(rng, 2, 8)
        historical_conn.execute(
            "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector) VALUES"
            " ('REGIME_MACRO_V0', %(day)s, %(macro)s::jsonb, 'joint-regime-core-v1', %(m)s),"
            " ('REGIME_CONTEXT_V0', %(day)s, %(news)s::jsonb, 'joint-regime-core-v1', %(n)s)",
            {"day": day, "macro": json.dumps(macro_scope("US", country="US")),
             "news": json.dumps(news_scope("US")),
             "m": vectors[day][0].tobytes(), "n": vectors[day][1].tobytes()})
    extra = {"written": 1, "skipped": 0, "removed": 0}
    events = triggering_asset_events([
        (REGIME_MACRO_V0, [{**extra, "as_of_date": days[0].isoformat()}, {**extra, "as_of_date": days[1].isoformat()}]),
        (REGIME_CONTEXT_V0, [{**extra, "as_of_date": days[1].isoformat()}, {**extra, "as_of_date": days[2].isoformat()},
                             {}]),  # an event without a date (another tool's) names nothing
    ])
    operator = CombineJointSpacesOperator(task_id="combine", space=REGIME_COMBINED_V0)
    context = {"params": {}, "dag_run": None, "triggering_asset_events": events, "ds": "2030-01-01"}
    result = operator.execute(context)
    assert result["dates"] == [day.isoformat() for day in days]
    assert [summary["counts"]["written"] for summary in result["summaries"]] == [1, 1, 1]
    for day in days:
        np.testing.assert_allclose(stored_vector(historical_conn, "REGIME_COMBINED_V0", COMBINED_US, day),
                                   expected_combined(*vectors[day]), rtol=1e-6, atol=1e-7)
    assert historical_conn.execute("SELECT count(*) FROM joint_embeddings WHERE as_of_date = '2030-01-01'"
                                   ).fetchone() == (0,)


def test_a_run_without_a_logical_date_or_dated_events_fails_saying_what_to_give(clean_databases):
    from joint_context.compat import AirflowFailException

    operator = CombineJointSpacesOperator(task_id="combine", space=REGIME_COMBINED_V0)
    with pytest.raises(AirflowFailException, match="trigger it with a logical date or an as_of_date"):
        operator.execute({"params": {}, "dag_run": None})


def test_an_unknown_conf_key_fails_the_combined_run(run_dag):
    assert run_dag(REGIME_COMBINED_V0.dag_id, DAY, {"numeric_weight": 1}) == "failed"


def test_an_unknown_context_key_is_refused_by_the_params_schema(run_dag):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="'currency' was unexpected"):
        run_dag(REGIME_COMBINED_V0.dag_id, DAY, {"contexts": [{"region": "US", "currency": "USD"}]})
