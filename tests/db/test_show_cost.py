"""``show``'s reads cost what the range holds, plus one look-back per series: not the history outside the range.

Measured as rows the server examines (EXPLAIN ANALYZE: rows returned and removed by filters, times loops, on
``joint_embeddings``), not as time, for a one-day range on a history of 30 days and of 300 days.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from joint_context.spaces import REGIME_MACRO_V0, canonical_json
from joint_context.store import read_sql
from joint_context.views import fetch_joint_vectors

LAST_DAY = date(2025, 6, 30)
REGIONS = ("US", "EU", "JP")


def fill_history(historical_conn, days: int) -> None:
    historical_conn.execute("TRUNCATE joint_embeddings")
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " SELECT 'REGIME_MACRO_V0', day::date, jsonb_build_object('region', region, 'source', 'regime+macro',"
        "        'macro_filters', '{}'::jsonb), 'joint-regime-core-v1', %s"
        "   FROM unnest(%s::text[]) AS region, generate_series(%s::date - %s + 1, %s::date, '1 day') AS day",
        (np.ones(8, dtype="<f4").tobytes(), list(REGIONS), LAST_DAY, days, LAST_DAY))
    historical_conn.execute("ANALYZE joint_embeddings")


def examined_rows(plan: dict) -> float:
    """Rows the plan's scans of joint_embeddings produced or filtered out, over all their loops."""
    own = 0.0
    if plan.get("Relation Name") == "joint_embeddings":
        own = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
               + plan.get("Rows Removed by Index Recheck", 0)) * plan.get("Actual Loops", 1)
    return own + sum(examined_rows(child) for child in plan.get("Plans", []))


def explain_analyze(conn, query: str, params: dict) -> dict:
    with conn.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
        (plan,) = cursor.fetchone()[0]
    return plan["Plan"]


def show_reads(historical_conn) -> float:
    """What ``show`` for the last day examines: the range query and the look-back query."""
    in_range = explain_analyze(historical_conn, read_sql("select_joint_vectors.sql"), {
        "joint_type": "REGIME_MACRO_V0", "first_date": LAST_DAY, "last_date": LAST_DAY, "regions": None,
        "model_id": None})
    scopes = [canonical_json(REGIME_MACRO_V0.entity_scope(region, {})) for region in REGIONS]
    look_back = explain_analyze(historical_conn, read_sql("select_joint_vector_before.sql"), {
        "joint_type": "REGIME_MACRO_V0", "model_ids": ["joint-regime-core-v1"] * len(REGIONS),
        "entity_scopes": scopes, "befores": [LAST_DAY] * len(REGIONS)})
    return examined_rows(in_range) + examined_rows(look_back)


def test_show_for_one_day_examines_the_same_rows_whatever_the_history_before_it(historical_conn):
    reads = {}
    for days in (30, 300):
        fill_history(historical_conn, days)
        reads[days] = show_reads(historical_conn)
    assert reads[300] <= reads[30] * 1.5, reads
    assert reads[300] < 3 * 30, reads  # far from the 900 rows of the longer history


@pytest.mark.parametrize("days", [1, 300])
def test_show_for_one_day_gives_the_previous_day_of_each_series(clean_databases, historical_conn, days):
    fill_history(historical_conn, days)
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        stored = fetch_joint_vectors(conn, REGIME_MACRO_V0, first_date=LAST_DAY, last_date=LAST_DAY)
    assert sorted(json.dumps(row.entity_scope, sort_keys=True) for row in stored.rows) == sorted(
        json.dumps(REGIME_MACRO_V0.entity_scope(region, {}), sort_keys=True) for region in REGIONS)
    expected_previous = None if days == 1 else LAST_DAY - timedelta(days=1)
    assert {row.previous_date for row in stored.rows} == {expected_previous}
