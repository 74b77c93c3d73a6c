"""The combined space REGIME_COMBINED_V0 against a real PostgreSQL: every stored vector equals an independent numpy
computation from the stored input rows (newest row per key, NULL newest = absent), and malformed inputs fail the
date, naming the input row, without writing anything."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from joint_context.combined_config import CombinedRunConfig
from joint_context.combined_space import REGIME_COMBINED_V0
from joint_context.errors import ParamsError, VectorDataError
from joint_context.pipeline.combine import combine_range, rebuild_combined_range, write_combined_day
from tests.helpers import random_vectors

DAY = date(2025, 1, 2)
SOURCE_MODEL = "joint-regime-core-v1"
US_MACRO = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}
US_NEWS = {"region": "US", "source": "regime+news", "news_filters": {}}
US_COMBINED = {"region": "US", "source": "macro+news", "macro_filters": {"country": "US"}, "news_filters": {}}


def insert_row(conn, joint_type: str, scope: dict, vector, *, day: date = DAY, model_id: str = SOURCE_MODEL,
               created_at: datetime | None = None) -> int:
    """A row of a base space as any writer (or a legacy tool) left it; ``vector`` raw bytes, a vector or None."""
    raw = vector if vector is None or isinstance(vector, bytes) else np.asarray(vector, dtype="<f4").tobytes()
    return conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
        " VALUES (%s, %s, %s, %s, %s, coalesce(%s, now())) RETURNING joint_id",
        (joint_type, day, Jsonb(scope), model_id, raw, created_at),
    ).fetchone()[0]


def expected(macro, news, macro_weight=0.5, news_weight=0.5) -> np.ndarray:
    """The issue's formula, computed directly in float64 and stored as float32."""
    macro = np.asarray(macro, dtype=np.float32).astype(np.float64)
    news = np.asarray(news, dtype=np.float32).astype(np.float64)
    return ((macro_weight * macro + news_weight * news) / (macro_weight + news_weight)).astype(np.float32)


def the_row(conn, scope: dict, day: date = DAY) -> np.ndarray:
    rows = conn.execute("SELECT vector FROM joint_embeddings WHERE joint_type = 'REGIME_COMBINED_V0'"
                        " AND as_of_date = %s AND entity_scope = %s", (day, Jsonb(scope))).fetchall()
    assert len(rows) == 1, f"{len(rows)} combined rows for {scope} on {day}"
    return np.frombuffer(rows[0][0], dtype="<f4")


def count_combined(conn) -> int:
    return conn.execute("SELECT count(*) FROM joint_embeddings WHERE joint_type = 'REGIME_COMBINED_V0'").fetchone()[0]


def run(conn, params: dict | None = None, first: date = DAY, last: date = DAY) -> list:
    config = CombinedRunConfig.from_params(REGIME_COMBINED_V0, params or {})
    return list(rebuild_combined_range(conn, config, first, last))


@pytest.fixture
def conn(clean_databases):
    with psycopg.connect(clean_databases.historical_dsn, autocommit=True) as connection:
        yield connection


def test_each_combined_vector_is_the_weighted_mean_of_the_newest_branch_rows(conn):
    rng = np.random.default_rng(13)
    old_macro, macro, news, newer_news_other_model = random_vectors(rng, 4, 8)
    then = datetime(2025, 1, 3, tzinfo=UTC)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, old_macro, created_at=then)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, macro, created_at=then + timedelta(hours=1))  # newest wins
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, old_macro, created_at=then)  # highest joint_id, older: loses
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news, created_at=then)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, newer_news_other_model, model_id="joint-other-v9",
               created_at=then + timedelta(days=1))  # another source model: not read
    (outcome,) = run(conn)
    assert (outcome.status, outcome.counts["written"]) == ("written", 1)
    np.testing.assert_allclose(the_row(conn, US_COMBINED), expected(macro, news), rtol=1e-6, atol=1e-7)


def test_equal_created_at_falls_back_to_the_highest_joint_id(conn):
    rng = np.random.default_rng(14)
    first, second, news = random_vectors(rng, 3, 8)
    then = datetime(2025, 1, 3, tzinfo=UTC)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, first, created_at=then)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, second, created_at=then)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news)
    run(conn)
    np.testing.assert_allclose(the_row(conn, US_COMBINED), expected(second, news), rtol=1e-6, atol=1e-7)


def test_weights_two_to_one_filters_and_distinct_contexts(conn):
    rng = np.random.default_rng(15)
    vectors = random_vectors(rng, 4, 8)
    eu_macro = {"region": "EU", "source": "regime+macro", "macro_filters": {"country": "DE", "event_type": "CPI"}}
    eu_news = {"region": "EU", "source": "regime+news", "news_filters": {"language": "de"}}
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, vectors[0])
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, vectors[1])
    insert_row(conn, "REGIME_MACRO_V0", eu_macro, vectors[2])
    insert_row(conn, "REGIME_CONTEXT_V0", eu_news, vectors[3])
    insert_row(conn, "REGIME_CONTEXT_V0", {**eu_news, "news_filters": {}}, vectors[0])  # another scope: not read
    contexts = [{"region": "US", "country": "US"},
                {"region": "EU", "country": "DE", "event_type": "CPI", "language": "DE"}]  # language ignores case
    run(conn, {"contexts": contexts, "macro_weight": 2, "news_weight": 1})
    np.testing.assert_allclose(the_row(conn, US_COMBINED), expected(vectors[0], vectors[1], 2, 1), rtol=1e-6,
                               atol=1e-7)
    eu_combined = {"region": "EU", "source": "macro+news", "macro_filters": {"country": "DE", "event_type": "CPI"},
                   "news_filters": {"language": "de"}}
    np.testing.assert_allclose(the_row(conn, eu_combined), expected(vectors[2], vectors[3], 2, 1), rtol=1e-6,
                               atol=1e-7)
    assert count_combined(conn) == 2


def test_a_zero_weight_branch_is_neither_read_nor_required(conn):
    rng = np.random.default_rng(16)
    (news,) = random_vectors(rng, 1, 8)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, b"\x01\x02\x03")  # torn, but weighted 0: never read
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news)
    (outcome,) = run(conn, {"macro_weight": 0, "news_weight": 1})
    assert outcome.status == "written"
    np.testing.assert_array_equal(the_row(conn, US_COMBINED), news)


def test_a_missing_or_null_branch_skips_the_context_and_removes_its_stale_row(conn):
    rng = np.random.default_rng(17)
    macro, news, stale = random_vectors(rng, 3, 8)
    next_day = DAY + timedelta(days=1)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, macro)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news, day=next_day)  # no macro that day (a weekend)
    insert_row(conn, "REGIME_COMBINED_V0", US_COMBINED, stale, day=next_day, model_id="joint-regime-combined-v1")
    outcomes = run(conn, last=next_day)
    assert [(o.status, o.counts["removed"]) for o in outcomes] == [("written", 0), ("skipped", 1)]
    assert count_combined(conn) == 1
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, None, created_at=datetime(2100, 1, 1, tzinfo=UTC))  # newest NULL
    (outcome,) = run(conn)
    assert (outcome.status, outcome.counts["removed"]) == ("skipped", 1)
    assert count_combined(conn) == 0


def test_a_rerun_replaces_its_row_with_identical_bytes_and_touches_no_other_row(conn):
    rng = np.random.default_rng(18)
    macro, news = random_vectors(rng, 2, 8)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, macro)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news)
    base_rows = conn.execute("SELECT * FROM joint_embeddings ORDER BY joint_id").fetchall()
    run(conn)
    first = bytes(the_row(conn, US_COMBINED))
    (outcome,) = run(conn)
    assert outcome.counts["replaced"] == 1 and bytes(the_row(conn, US_COMBINED)) == first
    assert conn.execute("SELECT * FROM joint_embeddings WHERE joint_type <> 'REGIME_COMBINED_V0'"
                        " ORDER BY joint_id").fetchall() == base_rows


@pytest.mark.parametrize(("macro_raw", "news_raw", "bad", "problem"), [
    (b"\x00" * 6, None, "macro", "not a multiple of 4"),
    (np.array([1.0, np.nan, 0.0, 0.0], dtype="<f4").tobytes(), None, "macro", "non-finite value"),
    (None, np.array([1.0, 2.0], dtype="<f4").tobytes(), "news", "dimension 2 but the REGIME_MACRO_V0 row"),
], ids=["torn bytes", "non-finite", "dimensions differ"])
def test_a_malformed_input_fails_its_date_naming_the_joint_id_and_writes_nothing(conn, macro_raw, news_raw, bad,
                                                                                  problem):
    good = np.arange(4, dtype="<f4").tobytes()
    ids = {"macro": insert_row(conn, "REGIME_MACRO_V0", US_MACRO, macro_raw or good),
           "news": insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news_raw or good)}
    insert_row(conn, "REGIME_COMBINED_V0", US_COMBINED, np.ones(4), model_id="joint-regime-combined-v1")
    before = conn.execute("SELECT * FROM joint_embeddings ORDER BY joint_id").fetchall()
    (outcome,) = run(conn)
    assert outcome.status == "failed" and isinstance(outcome.error, VectorDataError)
    assert outcome.error.row_id == ids[bad] and problem in str(outcome.error)
    assert f"row {ids[bad]!r}" in str(outcome.error)
    assert conn.execute("SELECT * FROM joint_embeddings ORDER BY joint_id").fetchall() == before


def test_the_per_date_write_leaves_what_the_range_rebuild_leaves(conn):
    rng = np.random.default_rng(19)
    macro, news = random_vectors(rng, 2, 8)
    insert_row(conn, "REGIME_MACRO_V0", US_MACRO, macro)
    insert_row(conn, "REGIME_CONTEXT_V0", US_NEWS, news)
    config = CombinedRunConfig.from_params(REGIME_COMBINED_V0, {})
    (day,) = combine_range(conn, config, DAY, DAY)
    summary = write_combined_day(conn, config, DAY, day.results)
    assert summary["counts"] == {"written": 1, "replaced": 0, "skipped": 0, "removed": 0}
    np.testing.assert_allclose(the_row(conn, US_COMBINED), expected(macro, news), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("params", "conf_keys", "message"), [
    ({"contexts": [{"region": "US", "currency": "USD"}]}, (), "unknown key(s) ['currency']"),
    ({}, ("numeric_weight",), "unknown key(s) in conf: ['numeric_weight']"),
    ({"contexts": [{"region": "US", "language": "EN"}, {"region": "US", "language": "en"}]}, (), "repeats"),
    ({"macro_weight": 0, "news_weight": 0}, (), "> 0"),
    ({"news_weight": -1}, (), "news_weight must be >= 0"),
    ({"contexts": [{"region": " US"}]}, (), "white space"),
], ids=["unknown filter", "unknown conf key", "contexts not distinct", "zero sum", "negative", "untrimmed"])
def test_bad_params_are_refused_before_anything_is_read(params, conf_keys, message):
    with pytest.raises(ParamsError) as raised:
        CombinedRunConfig.from_params(REGIME_COMBINED_V0, {**params, **dict.fromkeys(conf_keys, 1)}, conf_keys)
    assert message in str(raised.value)


def test_the_output_entity_scope_holds_exactly_the_filters_of_the_context():
    config = CombinedRunConfig.from_params(REGIME_COMBINED_V0, {"contexts": [
        {"region": "US"}, {"region": "US", "event_type": "CPI", "language": "EN"}]})
    assert [config.entity_scope(scope) for scope in config.contexts] == [
        {"region": "US", "source": "macro+news", "macro_filters": {}, "news_filters": {}},
        {"region": "US", "source": "macro+news", "macro_filters": {"event_type": "CPI"},
         "news_filters": {"language": "en"}},
    ]


def test_the_one_date_branch_read_looks_its_rows_up_by_index_at_ten_years_of_history(conn):
    """Ten years of macro and news rows of three regions, analysed: one date's read of the combined space goes
    through the (joint_type, as_of_date, model_id) index and never scans joint_embeddings, so its cost does not
    grow with the history (the benchmark's 1d times it)."""
    from bench.plans import explain, scans, sequential_scans
    from joint_context.spaces import canonical_json
    from joint_context.store import read_sql

    last = date(2025, 12, 31)
    conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " SELECT branch.joint_type, day::date, jsonb_build_object('region', region, 'source', branch.source,"
        "        branch.filters_key, '{}'::jsonb), 'joint-regime-core-v1', decode(repeat('3f800000', 384), 'hex')"
        "   FROM (VALUES ('REGIME_MACRO_V0', 'regime+macro', 'macro_filters'),"
        "                ('REGIME_CONTEXT_V0', 'regime+news', 'news_filters'))"
        "        AS branch(joint_type, source, filters_key),"
        "        unnest(ARRAY['US', 'EU', 'JP']) AS region,"
        "        generate_series(%s::date - 3649, %s::date, '1 day') AS day", (last, last))
    conn.execute("ANALYZE joint_embeddings")
    keys = [(joint_type, {"region": region, "source": source, key: {}}) for region in ("US", "EU", "JP")
            for joint_type, source, key in (("REGIME_MACRO_V0", "regime+macro", "macro_filters"),
                                            ("REGIME_CONTEXT_V0", "regime+news", "news_filters"))]
    plan = explain(conn, read_sql("select_newest_branch_rows.sql"), {
        "joint_types": [joint_type for joint_type, _scope in keys],
        "entity_scopes": [canonical_json(scope) for _joint_type, scope in keys],
        "model_id": SOURCE_MODEL, "first_date": last, "last_date": last})
    assert sequential_scans(plan, ("joint_embeddings",)) == [], [scan.describe() for scan in scans(plan)]
    assert "idx_joint_embeddings_type_date_model" in {scan.index for scan in scans(plan)}
