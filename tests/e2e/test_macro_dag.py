"""Whole runs of ``joint_regime_macro_context`` through Airflow (``dag.test``) on seeded databases."""

from datetime import date, timedelta

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import expected_joint, joint_rows, random_vectors

DAG_ID = "joint_regime_macro_context"
DAY = date(2025, 1, 2)


@pytest.fixture
def seeded_day(runtime_conn, historical_conn):
    """US and EU regimes on DAY, macro events of several countries (one with a NULL vector), a newer regime row."""
    rng = np.random.default_rng(11)
    regimes = {region: random_vectors(rng, 1)[0] for region in ("US", "EU")}
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=random_vectors(rng, 1)[0],
                  created_at=utc(DAY, 1), record_id="us-stale")
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=vector, created_at=utc(DAY, 6))
    text = {"US": random_vectors(rng, 5), "DE": random_vectors(rng, 3)}
    for country, vectors in text.items():
        for index, vector in enumerate(vectors):
            insert_macro_event(historical_conn, timestamp=utc(DAY, 2 + index * 4), vector=vector, country=country)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 12), vector=None, country="US")
    # the evening before and the midnight after belong to other days
    insert_macro_event(historical_conn, timestamp=utc(DAY, 0) - timedelta(seconds=1), vector=np.ones(384),
                       country="US")
    insert_macro_event(historical_conn, timestamp=utc(DAY + timedelta(days=1)), vector=np.ones(384), country="US")
    return regimes, text


def test_default_run_writes_the_us_joint_vector_matching_numpy(run_dag, historical_conn, seeded_day):
    regimes, text = seeded_day
    assert run_dag(DAG_ID, DAY) == "success"
    rows = joint_rows(historical_conn)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(
        "REGIME_MACRO_V0", DAY, {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}},
        "joint-regime-core-v1",
    )]
    np.testing.assert_allclose(rows[0][4], expected_joint(regimes["US"], text["US"]), rtol=1e-6, atol=1e-7)


def test_conf_contexts_and_weights_are_honoured(run_dag, historical_conn, seeded_day):
    regimes, text = seeded_day
    conf = {"contexts": [{"region": "EU", "country": "DE"}, {"region": "US"}], "numeric_weight": 2,
            "text_weight": 1}
    assert run_dag(DAG_ID, DAY, conf) == "success"
    rows = {r[2]["region"]: r for r in joint_rows(historical_conn)}
    assert rows["EU"][2]["macro_filters"] == {"country": "DE"} and rows["US"][2]["macro_filters"] == {}
    np.testing.assert_allclose(rows["EU"][4], expected_joint(regimes["EU"], text["DE"], 2, 1), rtol=1e-6, atol=1e-7)
    all_text = np.concatenate([text["US"], text["DE"]])
    np.testing.assert_allclose(rows["US"][4], expected_joint(regimes["US"], all_text, 2, 1), rtol=1e-6, atol=1e-7)


def test_rerun_leaves_exactly_the_same_rows(run_dag, historical_conn, seeded_day):
    assert run_dag(DAG_ID, DAY) == "success"
    first = joint_rows(historical_conn)
    assert run_dag(DAG_ID, DAY) == "success"
    second = joint_rows(historical_conn)
    assert len(first) == len(second) == 1
    np.testing.assert_array_equal(first[0][4], second[0][4])


def test_day_without_text_is_skipped_and_its_stale_row_removed(run_dag, historical_conn, runtime_conn):
    other_day = DAY + timedelta(days=5)
    insert_regime(runtime_conn, region="US", as_of_date=other_day, vector=np.ones(384))
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector) VALUES"
        " ('REGIME_MACRO_V0', %s, '{\"region\": \"US\", \"source\": \"regime+macro\","
        " \"macro_filters\": {\"country\": \"US\"}}', 'joint-regime-core-v1', '\\x0000803f')",
        (other_day,),
    )
    assert run_dag(DAG_ID, other_day) == "success"
    assert joint_rows(historical_conn) == []


def test_bad_vector_fails_the_run_and_writes_nothing(run_dag, historical_conn, runtime_conn, seeded_day):
    insert_macro_event(historical_conn, timestamp=utc(DAY, 20), vector=b"\x00" * 7, country="US")
    assert run_dag(DAG_ID, DAY) == "failed"
    assert joint_rows(historical_conn) == []


def test_unknown_conf_key_fails_before_any_write(run_dag, historical_conn, seeded_day):
    assert run_dag(DAG_ID, DAY, {"contxts": [{"region": "US"}]}) == "failed"
    assert joint_rows(historical_conn) == []


def test_quote_laden_values_are_data_end_to_end(run_dag, runtime_conn, historical_conn):
    region, country = "US'; DROP TABLE regimes; --", "Côte d'Ivoire \"CI\""
    rng = np.random.default_rng(21)
    regime, text = random_vectors(rng, 1)[0], random_vectors(rng, 2)
    insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=regime)
    for vector in text:
        insert_macro_event(historical_conn, timestamp=utc(DAY, 9), vector=vector, country=country)
    assert run_dag(DAG_ID, DAY, {"contexts": [{"region": region, "country": country}]}) == "success"
    (row,) = joint_rows(historical_conn)
    assert row[2] == {"region": region, "source": "regime+macro", "macro_filters": {"country": country}}
    np.testing.assert_allclose(row[4], expected_joint(regime, text), rtol=1e-6, atol=1e-7)
    assert runtime_conn.execute("SELECT count(*) FROM regimes").fetchone()[0] == 1


def test_as_of_date_wins_over_the_logical_date_and_a_manual_runs_interval_is_its_day(
    parse_dags, clean_databases, historical_conn, seeded_day
):
    """Issue 18: a manual run at logical date DAY covers DAY (not the day before); ``as_of_date`` picks the day."""
    import pendulum

    regimes, text = seeded_day
    dag = parse_dags().dags[DAG_ID]
    at_day = dag.test(logical_date=pendulum.datetime(2025, 1, 2, tz="UTC"))
    assert (at_day.data_interval_start, at_day.data_interval_end) == (
        pendulum.datetime(2025, 1, 2, tz="UTC"), pendulum.datetime(2025, 1, 3, tz="UTC"))
    historical_conn.execute("DELETE FROM joint_embeddings")
    later = parse_dags().dags[DAG_ID].test(logical_date=pendulum.datetime(2025, 1, 9, tz="UTC"),
                                           run_conf={"as_of_date": DAY.isoformat()})
    assert str(getattr(later.state, "value", later.state)) == "success"
    assert later.conf == {"as_of_date": "2025-01-02"}
    rows = joint_rows(historical_conn)
    assert [(row[1], row[2]["region"]) for row in rows] == [(DAY, "US")]
    np.testing.assert_allclose(rows[0][4], expected_joint(regimes["US"], text["US"]), rtol=1e-6, atol=1e-7)
