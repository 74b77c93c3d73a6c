"""The package's per-date reads use indexes on a history of years: no sequential scan of the event tables.

A plan, not a timing: generated history (two years of macro events, two months of news), the optional index
migration applied, ANALYZE run, then ``EXPLAIN`` of the exact SQL files the store executes with one day's
values bound. The upstream ``DATE("timestamp") = d`` query is the control: it cannot use an index.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import psycopg
import pytest
from psycopg import sql

from bench import generate
from bench.plans import (
    explain,
    explain_package_text_query,
    explain_regime_query,
    explain_upstream_text_query,
    scans,
    sequential_scans,
)
from devtools import localdb
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, canonical_json
from joint_context.store import read_sql

HISTORICAL_SCHEMA = localdb.SCHEMA_DIR / "historical_db.sql"

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


def generic_plan(conn, query: str, params: dict) -> dict:
    """The plan of ``query`` prepared and run with a generic plan, as PostgreSQL may choose for a statement the driver
    prepares (psycopg prepares a query run five times on one connection, e.g. a backfill's writes)."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered = re.sub(r"%\((\w+)\)s", number, "\n".join(line.split("--")[0] for line in query.splitlines()))
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute(sql.SQL("PREPARE generic_statement AS {}").format(sql.SQL(numbered)))
    try:
        literal_values = psycopg.ClientCursor(conn)
        placeholders = sql.SQL(", ").join([sql.Placeholder()] * len(names))
        literal_values.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE generic_statement ({})").format(placeholders),
                               [params[name] for name in names])
        (document,) = literal_values.fetchone()
    finally:
        conn.rollback()
        conn.execute("DEALLOCATE generic_statement")
        conn.commit()
    return document[0]["Plan"]


TABLES = {  # name: (days of history, joint types, regions, ANALYZE)
    "first rebuild half done, no statistics": (1720, ("REGIME_MACRO_V0",), ("US", "EU", "JP"), False),
    "ten years of two spaces, analysed": (3650, ("REGIME_MACRO_V0", "REGIME_CONTEXT_V0"),
                                          ("US", "EU", "JP", "GB", "CN"), True),
}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("plan_kind", ["custom", "generic"])
@pytest.mark.parametrize("days", [1, 86], ids=["one-date write", "bulk chunk of 258 keys"])
def test_the_write_delete_looks_each_key_up_by_index(history, days, plan_kind, table):
    """The DELETE of the keys to replace looks each key up through the (joint_type, as_of_date, model_id) index
    and never scans joint_embeddings, with the values known (a custom plan) or not (a generic plan: psycopg
    prepares a statement run five times on one connection, as a backfill's writes are), on production-size rows
    (384-dim vectors). Without statistics, as during a first rebuild, a plain join's generic plan scanned every
    row of the joint type and model once per key."""
    history_days, joint_types, regions, analyse = TABLES[table]
    with psycopg.connect(history.historical_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE joint_embeddings")  # a new table: no statistics at all
        conn.execute(HISTORICAL_SCHEMA.read_text())  # creates what is missing: that table and its index
        conn.execute(
            "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
            " SELECT joint_type, day::date, jsonb_build_object('region', region, 'source', 'regime+macro',"
            "        'macro_filters', '{}'::jsonb), 'joint-regime-core-v1', decode(repeat('3f800000', 384), 'hex')"
            "   FROM unnest(%s::text[]) AS joint_type, unnest(%s::text[]) AS region,"
            "        generate_series(%s::date - %s::int + 1, %s::date, '1 day') AS day",
            (list(joint_types), list(regions), LAST_DATE, history_days, LAST_DATE))
        if analyse:
            conn.execute("ANALYZE joint_embeddings")
    keys = [(LAST_DATE - timedelta(days=offset),
             canonical_json({"region": region, "source": "regime+macro", "macro_filters": {}}))
            for offset in range(days) for region in ("US", "EU", "JP")]
    params = {"joint_type": "REGIME_MACRO_V0", "model_id": "joint-regime-core-v1",
              "as_of_dates": [day for day, _scope in keys], "entity_scopes": [scope for _day, scope in keys],
              "positions": list(range(1, len(keys) + 1))}
    with psycopg.connect(history.historical_dsn) as conn:
        plan = (explain if plan_kind == "custom" else generic_plan)(conn, read_sql("delete_joint_rows.sql"), params)
    assert sequential_scans(plan, ("joint_embeddings",)) == [], [scan.describe() for scan in scans(plan)]
    lookups = [node.get("Index Cond", "") for node in plan_nodes(plan)
               if node.get("Index Name") == "idx_joint_embeddings_type_date_model"]
    assert len(lookups) == 1 and "as_of_date = joint_key.as_of_date" in lookups[0], lookups


def plan_nodes(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]
