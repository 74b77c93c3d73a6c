"""Whole runs of ``joint_regime_news_context`` (``REGIME_CONTEXT_V0``) through Airflow (``dag.test``) on seeded
databases."""

from datetime import date, timedelta

import numpy as np
import pytest

from devtools.seed import insert_news_article, insert_regime, insert_text_embedding, utc
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import expected_joint, joint_rows, random_vectors

DAG_ID = "joint_regime_news_context"
DAY = date(2025, 2, 4)


@pytest.fixture
def seeded_news_day(runtime_conn, historical_conn):
    """US and EU regimes (US also with an older row), articles in en / EN / En / de / DE / no language, one NULL
    vector, rows of other models and source types, and articles just outside the UTC day."""
    rng = np.random.default_rng(41)
    regimes = {region: random_vectors(rng, 1)[0] for region in ("US", "EU")}
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=random_vectors(rng, 1)[0],
                  created_at=utc(DAY, 1), record_id="us-older")
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=vector, created_at=utc(DAY, 5))
    text = {}
    for index, language in enumerate(("en", "EN", "En", "de", "DE", None)):
        text[language] = random_vectors(rng, 1)[0]
        insert_news_article(historical_conn, timestamp=utc(DAY, 2 + index * 3), language=language,
                            vector=text[language])
    insert_news_article(historical_conn, timestamp=utc(DAY, 20), language="en", vector=None)
    # not this space's text: another text model, and a MACRO embedding sharing an article's id
    insert_news_article(historical_conn, timestamp=utc(DAY, 21), language="en", vector=np.full(384, 50.0),
                        model_id="text-macro-v1")
    english_id = insert_news_article(historical_conn, timestamp=utc(DAY, 22), language="en",
                                     vector=random_vectors(rng, 1)[0], model_id="text-fin-general-v2")
    insert_text_embedding(historical_conn, source_type="MACRO", source_id=english_id, model_id="text-fin-general-v1",
                          vector=np.full(384, 70.0))
    # the last microsecond before the day and the first instant after it belong to other days
    insert_news_article(historical_conn, timestamp=utc(DAY) - timedelta(microseconds=1), language="en",
                        vector=np.full(384, 90.0))
    insert_news_article(historical_conn, timestamp=utc(DAY + timedelta(days=1)), language="en",
                        vector=np.full(384, 90.0))
    return regimes, text


def test_default_run_writes_us_from_every_language_with_empty_news_filters(run_dag, historical_conn,
                                                                           seeded_news_day):
    regimes, text = seeded_news_day
    assert run_dag(DAG_ID, DAY) == "success"
    rows = joint_rows(historical_conn)
    assert [row[:4] for row in rows] == [("REGIME_CONTEXT_V0", DAY, news_scope("US"), "joint-regime-core-v1")]
    np.testing.assert_allclose(rows[0][4], expected_joint(regimes["US"], list(text.values())), rtol=1e-6, atol=1e-7)


def test_language_filter_ignores_case_and_the_key_holds_it_in_lower_case_replacing_other_cases(
    run_dag, historical_conn, seeded_news_day
):
    regimes, text = seeded_news_day
    for language in ("EN", "En"):  # keys an earlier writer made in other cases: the canonical key replaces them
        insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", DAY, news_scope("US", language=language), np.ones(384))
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", DAY + timedelta(days=1), news_scope("US", language="EN"),
                     np.ones(384))  # another date: not this run's key
    conf = {"contexts": [{"region": "US", "language": "EN"}, {"region": "EU", "language": "de"}],
            "numeric_weight": 1, "text_weight": 3}
    assert run_dag(DAG_ID, DAY, conf) == "success"
    rows = {row[2]["region"]: row for row in joint_rows(historical_conn) if row[1] == DAY}
    assert len(joint_rows(historical_conn)) == 3
    assert rows["US"][2] == news_scope("US", language="en")
    assert rows["EU"][2] == news_scope("EU", language="de")
    assert [row[2] for row in joint_rows(historical_conn) if row[1] != DAY] == [news_scope("US", language="EN")]
    english = [text["en"], text["EN"], text["En"]]
    np.testing.assert_allclose(rows["US"][4], expected_joint(regimes["US"], english, 1, 3), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows["EU"][4], expected_joint(regimes["EU"], [text["de"], text["DE"]], 1, 3),
                               rtol=1e-6, atol=1e-7)


def test_rerun_leaves_exactly_the_same_rows(run_dag, historical_conn, seeded_news_day):
    conf = {"contexts": [{"region": "US", "language": "en"}, {"region": "EU"}]}
    assert run_dag(DAG_ID, DAY, conf) == "success"
    first = joint_rows(historical_conn)
    assert run_dag(DAG_ID, DAY, conf) == "success"
    second = joint_rows(historical_conn)
    assert len(first) == len(second) == 2
    assert [row[:4] for row in first] == [row[:4] for row in second]
    for before, after in zip(first, second, strict=True):
        np.testing.assert_array_equal(before[4], after[4])


def test_skipped_contexts_lose_their_stale_rows_and_other_spaces_rows_stay(run_dag, historical_conn, runtime_conn,
                                                                           seeded_news_day):
    stale = [news_scope("US", language="fr"), news_scope("JP")]  # no French news; no JP regime
    for scope in stale:
        insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", DAY, scope, np.ones(384))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", DAY, macro_scope("US"), np.ones(384))
    conf = {"contexts": [{"region": "US", "language": "fr"}, {"region": "JP"}, {"region": "EU", "language": "DE"}]}
    assert run_dag(DAG_ID, DAY, conf) == "success"
    assert [(row[0], row[2]) for row in joint_rows(historical_conn)] == [
        ("REGIME_CONTEXT_V0", news_scope("EU", language="de")),
        ("REGIME_MACRO_V0", macro_scope("US")),
    ]


def test_null_regime_embedding_skips_the_region(run_dag, historical_conn, runtime_conn, seeded_news_day):
    insert_regime(runtime_conn, region="EU", as_of_date=DAY, vector=None, created_at=utc(DAY, 9))
    conf = {"contexts": [{"region": "EU"}, {"region": "US"}]}
    assert run_dag(DAG_ID, DAY, conf) == "success"
    assert [row[2] for row in joint_rows(historical_conn)] == [news_scope("US")]


def test_malformed_news_vector_fails_the_run_and_keeps_the_previous_rows(run_dag, historical_conn,
                                                                         seeded_news_day):
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", DAY, news_scope("US"), np.full(384, 3.0))
    insert_news_article(historical_conn, timestamp=utc(DAY, 23), language="de", vector=b"\x00" * 10)
    assert run_dag(DAG_ID, DAY) == "failed"
    rows = joint_rows(historical_conn)
    assert len(rows) == 1
    np.testing.assert_array_equal(rows[0][4], np.full(384, 3.0))
