"""The store against a real PostgreSQL: which rows are read, and what a write leaves behind."""

from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.spaces import REGIME_MACRO_V0, joint_lock_key
from joint_context.store import (
    JointRow,
    fetch_regimes,
    replace_joint_rows,
    replace_joint_rows_for_dates,
    stream_text_vectors,
)
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


# --- many dates in one transaction (the bulk CLI's write) -----------------------------------------------------

DAYS = [DAY + timedelta(days=offset) for offset in range(3)]
SCOPE_EU = {**SCOPE_US, "region": "EU"}


def write_dates(conn, rows_by_date, model_id="joint-regime-core-v1"):
    return replace_joint_rows_for_dates(conn, joint_type="REGIME_MACRO_V0", model_id=model_id,
                                        rows_by_date=rows_by_date)


def all_rows(historical_conn) -> list[tuple]:
    """Every row with every column, to compare a table before and after byte for byte."""
    return historical_conn.execute("SELECT * FROM joint_embeddings ORDER BY joint_id").fetchall()


def test_multi_date_write_leaves_exactly_the_given_rows_and_says_what_it_did_per_date(clean_databases,
                                                                                     historical_conn):
    d0, d1, d2 = DAYS
    for value in (1, 2):
        insert_legacy_row(historical_conn, SCOPE_US, value, d0)  # legacy duplicates on two dates
    for value in (3, 4, 5):
        insert_legacy_row(historical_conn, SCOPE_US, value, d1)
    insert_legacy_row(historical_conn, SCOPE_EU, 6, d1)  # stale: EU is skipped on d1
    untouched = [
        (SCOPE_US, d2 + timedelta(days=1), "REGIME_MACRO_V0", "joint-regime-core-v1"),  # a date not written
        (SCOPE_EU, d2, "REGIME_MACRO_V0", "joint-regime-core-v1"),  # a scope not written on that date
        (SCOPE_US, d0, "REGIME_CONTEXT_V0", "joint-regime-core-v1"),  # other joint type
        (SCOPE_US, d1, "REGIME_MACRO_V0", "joint-regime-core-v2"),  # other model
    ]
    for scope, as_of_date, joint_type, model_id in untouched:
        insert_legacy_row(historical_conn, scope, 7, as_of_date, joint_type, model_id)
    vectors = {(d0, "US"): np.full(4, 10.0), (d0, "EU"): np.full(4, 11.0), (d1, "US"): np.full(4, 12.0)}

    with psycopg.connect(clean_databases.historical_dsn) as conn:
        outcomes = write_dates(conn, {
            d1: [JointRow(SCOPE_US, encode_vector(vectors[(d1, "US")])), JointRow(SCOPE_EU, None)],
            d0: [JointRow(SCOPE_US, encode_vector(vectors[(d0, "US")])),
                 JointRow(SCOPE_EU, encode_vector(vectors[(d0, "EU")]))],
            d2: [JointRow(SCOPE_US, None)],
        })

    assert list(outcomes) == [d1, d0, d2]  # the order given
    assert {day: [(o.entity_scope["region"], o.action, o.previous_rows) for o in day_outcomes]
            for day, day_outcomes in outcomes.items()} == {
        d0: [("US", "replaced", 2), ("EU", "written", 0)],
        d1: [("US", "replaced", 3), ("EU", "removed", 1)],
        d2: [("US", "nothing", 0)],
    }
    written, others = [], []
    for row in joint_rows(historical_conn):
        is_written_key = (row[0], row[3]) == ("REGIME_MACRO_V0", "joint-regime-core-v1") and row[1] in DAYS \
            and (row[1], row[2]["region"]) != (d2, "EU")
        (written if is_written_key else others).append(row)
    assert sorted((row[1], row[2]["region"]) for row in written) == sorted(vectors)  # exactly one row per key
    for row in written:
        assert row[2] == (SCOPE_US if row[2]["region"] == "US" else SCOPE_EU)
        np.testing.assert_array_equal(row[4], vectors[(row[1], row[2]["region"])])
    assert sorted((row[0], row[1], row[3], row[2]["region"], row[4][0]) for row in others) == sorted(
        (joint_type, day, model_id, scope["region"], 7.0) for scope, day, joint_type, model_id in untouched)


def test_a_multi_date_write_refused_by_the_database_leaves_every_date_as_it_was(clean_databases, historical_conn):
    d0, d1, d2 = DAYS
    for day in DAYS:
        insert_legacy_row(historical_conn, SCOPE_US, 1, day)
        insert_legacy_row(historical_conn, SCOPE_US, 2, day)  # a legacy duplicate the delete would remove
    before = all_rows(historical_conn)
    # the database refuses only the last date's vector, after the other dates' rows were deleted and inserted
    historical_conn.execute("ALTER TABLE joint_embeddings ADD CONSTRAINT test_refuse_3d CHECK (length(vector) <> 12)")
    try:
        with psycopg.connect(clean_databases.historical_dsn) as conn:
            with pytest.raises(psycopg.errors.CheckViolation):
                write_dates(conn, {d0: [JointRow(SCOPE_US, encode_vector(np.zeros(4)))],
                                   d1: [JointRow(SCOPE_US, None)],
                                   d2: [JointRow(SCOPE_US, encode_vector(np.zeros(3)))]})
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # rolled back, usable
    finally:
        historical_conn.execute("ALTER TABLE joint_embeddings DROP CONSTRAINT test_refuse_3d")
    assert all_rows(historical_conn) == before


def test_a_multi_date_write_takes_the_key_lock_of_every_date_before_touching_a_row(clean_databases,
                                                                                   historical_conn):
    d0, d1, d2 = DAYS
    for day in DAYS:
        insert_legacy_row(historical_conn, SCOPE_US, 1, day)
    before = all_rows(historical_conn)
    with psycopg.connect(clean_databases.historical_dsn) as holder:
        # another writer in the middle of its transaction on the middle date's key
        holder.execute("SELECT pg_advisory_xact_lock(%s)",
                       (joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", d1, SCOPE_US),))
        with psycopg.connect(clean_databases.historical_dsn, options="-c lock_timeout=300") as conn:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                write_dates(conn, {day: [JointRow(SCOPE_US, encode_vector(np.zeros(4)))] for day in DAYS})
        assert all_rows(historical_conn) == before
        holder.rollback()
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        outcomes = write_dates(conn, {day: [JointRow(SCOPE_US, encode_vector(np.zeros(4)))] for day in DAYS})
    assert {day: [o.action for o in day_outcomes] for day, day_outcomes in outcomes.items()} == {
        day: ["replaced"] for day in DAYS}


def test_a_scope_given_twice_for_one_date_is_refused_before_any_statement(clean_databases, historical_conn):
    insert_legacy_row(historical_conn, SCOPE_US, 1)
    before = all_rows(historical_conn)
    reordered = {"macro_filters": {"country": "US"}, "source": "regime+macro", "region": "US"}
    with psycopg.connect(clean_databases.historical_dsn) as conn, pytest.raises(ValueError, match="appears twice"):
        write_dates(conn, {DAY: [JointRow(SCOPE_US, encode_vector(np.ones(4))), JointRow(reordered, None)]})
    assert all_rows(historical_conn) == before
