"""The package's per-date reads use indexes on a history of years: no sequential scan of the event tables.

A plan, not a timing: generated history (two years of macro events, two months of news), the optional index
migration applied, ANALYZE run, then ``EXPLAIN`` of the exact SQL files the store executes with one day's
values bound. The upstream ``DATE("timestamp") = d`` query is the control: it cannot use an index.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest

from bench import generate
from bench.plans import (
    explain,
    explain_package_text_query,
    explain_regime_query,
    explain_upstream_text_query,
    scans,
    sequential_scans,
)
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, canonical_json
from joint_context.store import read_sql

LAST_DATE = date(2025, 6, 30)
EVENT_TABLES = ("macro_events", "news_articles")
SPEC = generate.HistorySpec(
    regions=("US", "EU", "JP"), last_date=LAST_DATE, macro_days=730, macro_per_day=30,
    news_days=60, news_per_day=300, dimension=16, seed=7,
)
CASES = [
    (REGIME_MACRO_V0, {}, "idx_macro_events_ts"),
    (REGIME_MACRO_V0, {"country": "US"}, "idx_macro_events_ts"),
    (REGIME_MACRO_V0, {"country": "DE", "event_type": "CPI"}, None),
    (REGIME_CONTEXT_V0, {}, "idx_news_articles_ts"),
    (REGIME_CONTEXT_V0, {"language": "en"}, "idx_news_articles_ts"),
]


@pytest.fixture(scope="module")
def history(pg_admin_dsn):
    name = f"jc_plans_{uuid.uuid4().hex[:8]}"
    generated = generate.generate(pg_admin_dsn, name, SPEC)
    try:
        yield generated
    finally:
        generate.drop(pg_admin_dsn, name)


@pytest.fixture
def historical_conn(history):
    with psycopg.connect(history.historical_dsn) as conn:
        yield conn


def test_generated_history_holds_years_of_events(historical_conn):
    counts = historical_conn.execute(
        "SELECT (SELECT count(*) FROM macro_events), (SELECT count(*) FROM news_articles),"
        " (SELECT count(*) FROM text_embeddings),"
        " (SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_macro_events_ts')"
    ).fetchone()
    assert counts == (730 * 30, 60 * 300, 730 * 30 + 60 * 300, 1)


@pytest.mark.parametrize(("space", "filters", "expected_index"), CASES,
                         ids=[f"{space.joint_type}-{'-'.join(f) or 'unfiltered'}" for space, f, _ in CASES])
def test_one_day_text_read_scans_the_event_table_by_index_not_sequentially(
    historical_conn, space, filters, expected_index
):
    plan = explain_package_text_query(historical_conn, space, filters, LAST_DATE)
    assert sequential_scans(plan, EVENT_TABLES) == [], [scan.describe() for scan in scans(plan)]
    event_scans = [scan for scan in scans(plan) if scan.relation in EVENT_TABLES or scan.index]
    assert any("Index" in scan.node_type for scan in event_scans), [scan.describe() for scan in scans(plan)]
    if expected_index:
        assert expected_index in {scan.index for scan in scans(plan)}, [scan.describe() for scan in scans(plan)]


@pytest.mark.parametrize("space", [REGIME_MACRO_V0, REGIME_CONTEXT_V0], ids=lambda space: space.joint_type)
def test_upstream_date_cast_read_cannot_avoid_a_sequential_scan(historical_conn, space):
    plan = explain_upstream_text_query(historical_conn, space, {}, LAST_DATE)
    assert [scan.relation for scan in sequential_scans(plan, EVENT_TABLES)] == [space.event_table.split(".")[1]]


def test_one_day_regime_read_uses_the_region_date_index(history):
    with psycopg.connect(history.runtime_dsn) as conn:
        plan = explain_regime_query(conn, ["US", "EU", "JP"], LAST_DATE, LAST_DATE)
    assert sequential_scans(plan, ("regimes",)) == [], [scan.describe() for scan in scans(plan)]
    assert "idx_regimes_region_date" in {scan.index for scan in scans(plan)}


@pytest.mark.parametrize("days", [1, 86], ids=["one-date write", "bulk chunk of 258 keys"])
def test_the_write_delete_finds_each_key_by_index_on_a_large_table(history, days):
    """The DELETE of the keys to replace, on ten years of production-size joint rows (384-dim vectors, five
    regions, two joint types): an index lookup per key, never a sequential scan of joint_embeddings."""
    with psycopg.connect(history.historical_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE joint_embeddings")
        conn.execute(
            "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
            " SELECT joint_type, day::date, jsonb_build_object('region', region, 'source', 'regime+macro',"
            "        'macro_filters', '{}'::jsonb), 'joint-regime-core-v1', decode(repeat('3f800000', 384), 'hex')"
            "   FROM unnest(ARRAY['REGIME_MACRO_V0', 'REGIME_CONTEXT_V0']) AS joint_type,"
            "        generate_series(%s::date - 3649, %s::date, '1 day') AS day,"
            "        unnest(ARRAY['US', 'EU', 'JP', 'GB', 'CN']) AS region",
            (LAST_DATE, LAST_DATE))
        conn.execute("ANALYZE joint_embeddings")
    keys = [(LAST_DATE - timedelta(days=offset),
             canonical_json({"region": region, "source": "regime+macro", "macro_filters": {}}))
            for offset in range(days) for region in ("US", "EU", "JP")]
    with psycopg.connect(history.historical_dsn) as conn:
        plan = explain(conn, read_sql("delete_joint_rows.sql"), {
            "joint_type": "REGIME_MACRO_V0", "model_id": "joint-regime-core-v1",
            "as_of_dates": [day for day, _scope in keys], "entity_scopes": [scope for _day, scope in keys]})
    assert sequential_scans(plan, ("joint_embeddings",)) == [], [scan.describe() for scan in scans(plan)]
    assert "idx_joint_embeddings_type_date_model" in {scan.index for scan in scans(plan)}, [
        scan.describe() for scan in scans(plan)]
