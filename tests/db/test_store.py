"""The store against a real PostgreSQL: which rows are read, and what a write leaves behind."""

from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.spaces import REGIME_MACRO_V0
from joint_context.store import JointRow, fetch_regimes, replace_joint_rows, stream_text_vectors
from joint_context.vectors import encode_vector
from tests.helpers import joint_rows

DAY = date(2025, 1, 2)
SCOPE_US = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}


def text_rows(historical_conn, first_date=DAY, last_date=DAY, **filters):
    """``(utc_date, source_id)`` the streamed read returns, over a connection of its own (as the tasks have)."""
    with psycopg.connect(historical_conn.info.dsn) as reader:
        batches = stream_text_vectors(
            reader, REGIME_MACRO_V0, source_type="MACRO", text_model_id="text-macro-v1",
            filters=filters, first_date=first_date, last_date=last_date, batch_rows=2,
        )
        return sorted((day, source_id) for batch in batches for day, source_id, _vector in batch)


def test_newest_regime_row_wins_by_created_at_then_record_id(runtime_conn):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(4), record_id="a-old",
                  created_at=utc(DAY, 1))
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(4), record_id="b-tie",
                  created_at=utc(DAY, 5))
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(4), record_id="c-tie",
                  created_at=utc(DAY, 5))
    insert_regime(runtime_conn, region="EU", as_of_date=DAY, vector=None, record_id="eu-null")
    regimes = fetch_regimes(runtime_conn, ["US", "EU"], DAY, DAY)
    assert regimes[("US", DAY)].regime_record_id == "c-tie"
    assert regimes[("EU", DAY)].regime_embedding is None


def test_text_window_is_the_utc_day_whatever_the_session_time_zone(clean_databases, historical_conn):
    inside = [utc(DAY, 0, 0), utc(DAY, 23, 59)]
    outside = [utc(DAY, 0) - timedelta(microseconds=1), utc(DAY + timedelta(days=1))]
    ids = {ts: insert_macro_event(historical_conn, timestamp=ts, vector=np.ones(4)) for ts in inside + outside}
    for zone in ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"):
        with psycopg.connect(clean_databases.historical_dsn, options=f"-c TimeZone={zone}") as conn:
            batches = stream_text_vectors(
                conn, REGIME_MACRO_V0, source_type="MACRO", text_model_id="text-macro-v1",
                filters={}, first_date=DAY, last_date=DAY,
            )
            read = sorted((day, source_id) for batch in batches for day, source_id, _vector in batch)
        assert read == sorted((DAY, ids[ts]) for ts in inside), zone


def test_text_filters_on_country_and_event_type_are_exact(historical_conn):
    us_cpi = insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), country="US",
                                event_type="CPI")
    us_pmi = insert_macro_event(historical_conn, timestamp=utc(DAY, 9), vector=np.ones(4), country="US",
                                event_type="PMI")
    no_country = insert_macro_event(historical_conn, timestamp=utc(DAY, 9), vector=np.ones(4), country=None)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 10), vector=np.ones(4), country="us")
    assert [sid for _, sid in text_rows(historical_conn, country="US")] == sorted([us_cpi, us_pmi])
    assert [sid for _, sid in text_rows(historical_conn, country="US", event_type="PMI")] == [us_pmi]
    assert no_country in [sid for _, sid in text_rows(historical_conn)]


def test_text_rows_of_other_models_and_source_types_are_not_read(historical_conn):
    wanted = insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4))
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), model_id="text-macro-v2")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), source_type="NEWS")
    assert text_rows(historical_conn) == [(DAY, wanted)]


def test_range_read_labels_each_row_with_its_utc_date(historical_conn):
    first = insert_macro_event(historical_conn, timestamp=utc(DAY, 23, 30), vector=np.ones(4))
    second = insert_macro_event(historical_conn, timestamp=utc(DAY + timedelta(days=1), 0, 30), vector=np.ones(4))
    assert text_rows(historical_conn, DAY, DAY + timedelta(days=1)) == [
        (DAY, first), (DAY + timedelta(days=1), second)]


def test_filter_values_are_bound_never_formatted_into_sql(historical_conn):
    hostile = "US' OR '1'='1"
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), country="US")
    quoted = insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), country=hostile)
    assert [sid for _, sid in text_rows(historical_conn, country=hostile)] == [quoted]


def write(conn, rows, as_of_date=DAY, model_id="joint-regime-core-v1"):
    return replace_joint_rows(conn, joint_type="REGIME_MACRO_V0", model_id=model_id, as_of_date=as_of_date,
                              rows=rows)


def insert_legacy_row(historical_conn, scope, value, as_of_date=DAY, joint_type="REGIME_MACRO_V0",
                      model_id="joint-regime-core-v1"):
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " VALUES (%s, %s, %s::jsonb, %s, %s)",
        (joint_type, as_of_date, psycopg.types.json.Jsonb(scope), model_id, encode_vector(np.full(4, value))),
    )


def test_write_replaces_legacy_duplicates_with_exactly_one_row(clean_databases, historical_conn):
    for value in (1, 2, 3):
        insert_legacy_row(historical_conn, SCOPE_US, value)
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        outcomes = write(conn, [JointRow(SCOPE_US, encode_vector(np.full(4, 9.0)))])
    assert [(o.action, o.previous_rows) for o in outcomes] == [("replaced", 3)]
    rows = joint_rows(historical_conn)
    assert len(rows) == 1 and rows[0][2] == SCOPE_US
    np.testing.assert_array_equal(rows[0][4], np.full(4, 9.0))


def test_scope_matching_ignores_json_key_order(clean_databases, historical_conn):
    reordered = {"macro_filters": {"country": "US"}, "source": "regime+macro", "region": "US"}
    insert_legacy_row(historical_conn, reordered, 1)
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        assert write(conn, [JointRow(SCOPE_US, encode_vector(np.zeros(4)))])[0].action == "replaced"
    assert len(joint_rows(historical_conn)) == 1


def test_skipped_key_loses_its_stale_row_and_nothing_else_is_touched(clean_databases, historical_conn):
    scope_eu = {**SCOPE_US, "region": "EU"}
    insert_legacy_row(historical_conn, SCOPE_US, 1)
    untouched = [
        (scope_eu, DAY, "REGIME_MACRO_V0", "joint-regime-core-v1"),  # other scope
        (SCOPE_US, DAY + timedelta(days=1), "REGIME_MACRO_V0", "joint-regime-core-v1"),  # other date
        (SCOPE_US, DAY, "REGIME_CONTEXT_V0", "joint-regime-core-v1"),  # other joint type
        (SCOPE_US, DAY, "REGIME_MACRO_V0", "joint-regime-core-v2"),  # other model
    ]
    for scope, as_of_date, joint_type, model_id in untouched:
        insert_legacy_row(historical_conn, scope, 5, as_of_date, joint_type, model_id)
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        outcomes = write(conn, [JointRow(SCOPE_US, None)])
    assert [(o.action, o.previous_rows) for o in outcomes] == [("removed", 1)]
    remaining = {(row[0], row[1], row[3], row[2]["region"]) for row in joint_rows(historical_conn)}
    assert remaining == {(jt, d, m, s["region"]) for s, d, jt, m in untouched}


def test_a_failed_write_leaves_the_previous_rows_intact(clean_databases, historical_conn):
    scope_eu = {**SCOPE_US, "region": "EU"}
    insert_legacy_row(historical_conn, SCOPE_US, 1)
    insert_legacy_row(historical_conn, scope_eu, 2)
    # the database refuses the second insert, after the first key was already replaced in the transaction
    historical_conn.execute("ALTER TABLE joint_embeddings ADD CONSTRAINT test_refuse_3d CHECK (length(vector) <> 12)")
    try:
        with psycopg.connect(clean_databases.historical_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
            write(conn, [JointRow(SCOPE_US, encode_vector(np.zeros(4))),
                         JointRow(scope_eu, encode_vector(np.zeros(3)))])
    finally:
        historical_conn.execute("ALTER TABLE joint_embeddings DROP CONSTRAINT test_refuse_3d")
    rows = joint_rows(historical_conn)
    assert [(row[2]["region"], row[4][0]) for row in rows] == [("EU", 2.0), ("US", 1.0)]
