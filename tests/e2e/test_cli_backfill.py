"""``joint-context backfill`` on seeded databases: the bulk backfill writes what one DAG run per date writes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, insert_regime, utc
from tests.e2e.cli_helpers import (
    MACRO_CONTEXTS,
    MACRO_DAG_ID,
    MACRO_DATES,
    NEWS_DAG_ID,
    dsn_options,
    run_cli,
    run_main,
    stored_rows,
)
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import expected_joint, random_vectors


def insert_rows_of_an_earlier_run(historical_conn):
    """A stale EU row on the day EU has no regime, and a row on the failing day that the failure must not touch."""
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", MACRO_DATES[1], macro_scope("EU", country="DE"), np.ones(384))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", MACRO_DATES[3], macro_scope("US", country="US"),
                     np.full(384, 2.0))


def test_cli_backfill_writes_exactly_the_rows_of_one_dag_run_per_date(run_dag, historical_conn, macro_range):
    regimes, text = macro_range
    insert_rows_of_an_earlier_run(historical_conn)
    conf = {"contexts": MACRO_CONTEXTS}
    states = {day: run_dag(MACRO_DAG_ID, day, conf) for day in MACRO_DATES}
    assert states == {day: "failed" if day == MACRO_DATES[3] else "success" for day in MACRO_DATES}
    dag_rows = stored_rows(historical_conn)

    historical_conn.execute("TRUNCATE joint_embeddings")
    insert_rows_of_an_earlier_run(historical_conn)
    result = run_cli("backfill", "--space", MACRO_DAG_ID, "--conf", json.dumps(conf),
                     "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat())
    cli_rows = stored_rows(historical_conn)

    assert result.returncode == 1, result.stderr
    assert cli_rows == dag_rows
    d0, d1, _d2, d3, d4 = MACRO_DATES
    assert [(row[1], row[2]["region"]) for row in cli_rows] == [(d0, "EU"), (d0, "US"), (d1, "US"), (d3, "US"),
                                                                (d4, "US")]
    by_key = {(row[1], row[2]["region"]): np.frombuffer(row[4], dtype="<f4") for row in cli_rows}
    np.testing.assert_allclose(by_key[(d0, "US")], expected_joint(regimes[("US", d0)], text[("US", d0)]),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(by_key[(d0, "EU")], expected_joint(regimes[("EU", d0)], text[("DE", d0)]),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(by_key[(d4, "US")], expected_joint(regimes[("US", d4)], text[("US", d4)]),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(by_key[(d3, "US")], np.full(384, 2.0))  # the failed date kept its row


def test_cli_backfill_reports_progress_and_failed_dates_and_exits_non_zero(historical_conn, macro_range):
    result = run_cli("backfill", "--conf", json.dumps({"contexts": MACRO_CONTEXTS}),
                     "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat())
    assert result.returncode == 1
    assert "5 date(s), 3 written, 1 skipped (no data for any context), 1 failed" in result.stdout
    assert "joint rows: 4 new, 0 replaced" in result.stdout
    assert "5/5" in result.stderr and "3 written · 1 skipped · 1 failed" in result.stderr
    assert f"{MACRO_DATES[3]} failed" in result.stderr
    assert "historical_db.text_embeddings row" in result.stderr and "not a multiple of 4" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_backfill_rerun_leaves_exactly_the_same_rows(historical_conn, macro_range):
    args = ("backfill", "--region", "US", "--country", "US", "--no-progress",
            "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[2].isoformat())
    first_run = run_cli(*args)
    first_rows = stored_rows(historical_conn)
    second_run = run_cli(*args)
    assert (first_run.returncode, second_run.returncode) == (0, 0), second_run.stderr
    assert len(first_rows) == 2 and stored_rows(historical_conn) == first_rows
    assert "joint rows: 0 new, 2 replaced" in second_run.stdout
    assert "━" not in second_run.stderr  # --no-progress


def test_cli_news_backfill_writes_the_rows_of_the_news_dag(run_dag, historical_conn, news_range):
    days = MACRO_DATES[:3]
    conf = {"contexts": [{"region": "US", "language": "en"}, {"region": "EU", "language": "en"}]}
    assert [run_dag(NEWS_DAG_ID, day, conf) for day in days] == ["success"] * 3
    dag_rows = stored_rows(historical_conn)
    historical_conn.execute("TRUNCATE joint_embeddings")

    result = run_cli("backfill", "--space", "REGIME_CONTEXT_V0", "--region", "US", "--region", "EU",
                     "--language", "en", "--date-range", days[0].isoformat(), days[-1].isoformat())

    assert result.returncode == 0, result.stderr
    assert "3 date(s), 2 written, 1 skipped" in result.stdout
    cli_rows = stored_rows(historical_conn)
    assert cli_rows == dag_rows
    assert [(row[0], row[1], row[2]) for row in cli_rows] == [
        ("REGIME_CONTEXT_V0", days[0], news_scope("EU", language="en")),
        ("REGIME_CONTEXT_V0", days[0], news_scope("US", language="en")),
        ("REGIME_CONTEXT_V0", days[1], news_scope("US", language="en")),
    ]


# --- backfill: bad input and unreachable databases ----------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--region", "US", "--date-range", "2025-03-05", "2025-03-03"], "START 2025-03-05 is after END 2025-03-03"),
    (["--region", "US", "--date-range", "2025-02-30", "2025-03-03"], "'2025-02-30' is not a date"),
    (["--space", "REGIME_NOPE_V0", "--region", "US", "--date-range", "2025-03-03", "2025-03-03"],
     "unknown joint space 'REGIME_NOPE_V0'"),
    (["--space", "REGIME_CONTEXT_V0", "--region", "US", "--country", "US", "--date-range", "2025-03-03",
      "2025-03-03"], "--country is not a filter of REGIME_CONTEXT_V0"),
    (["--conf", '{"contxts": []}', "--date-range", "2025-03-03", "2025-03-03"], "unknown key(s) in conf: ['contxts']"),
    (["--conf", "{not json", "--date-range", "2025-03-03", "2025-03-03"], "argument --conf: not valid JSON"),
    (["--conf", '{"as_of_date": "2025-03-03"}', "--region", "US", "--date-range", "2025-03-03", "2025-03-03"],
     "--date-range gives the days here"),
    (["--conf", '{"contexts": [{"region": "US"}]}', "--region", "EU", "--date-range", "2025-03-03", "2025-03-03"],
     "either with --region or in --conf"),
    (["--region", "US", "--text-weight", "-1", "--date-range", "2025-03-03", "2025-03-03"],
     "argument --text-weight: must be a finite number >= 0"),
    (["--region", "US", "--numeric-weight", "0", "--text-weight", "0", "--date-range", "2025-03-03", "2025-03-03"],
     "numeric_weight + text_weight must be > 0"),
    (["--region", "US", "--region", "US", "--date-range", "2025-03-03", "2025-03-03"], "repeats contexts[0]"),
    (["--country", "US", "--date-range", "2025-03-03", "2025-03-03"], "name at least one --region"),
    (["--region", "US", "--date-range", "2025-03-03"], "expected 2 arguments"),
    (["--region", "US", "--date-range", "9999-12-30", "9999-12-31"], "END 9999-12-31 is the last date there is"),
    (["--region", "US", "--statement-timeout", "soon", "--date-range", "2025-03-03", "2025-03-03"],
     "'soon' is not a duration"),
])
def test_bad_backfill_input_exits_2_with_a_message_and_writes_nothing(capsys, historical_conn, macro_range,
                                                                       args, message):
    status, _out, err = run_main(capsys, "backfill", *args)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert stored_rows(historical_conn) == []


def test_the_same_input_without_the_mistake_does_write(capsys, historical_conn, macro_range):
    """The control for the test above: its data and date do produce a row once the input is right."""
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--date-range", "2025-03-03", "2025-03-03")
    assert status == 0, err
    assert len(stored_rows(historical_conn)) == 1


# --- backfill in chunks of several dates ------------------------------------------------------------------

CHUNK_START = date(2024, 1, 1)
CHUNK_DAYS = [CHUNK_START + timedelta(days=offset) for offset in range(100)]
CHUNK_CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"},
                  {"region": "JP", "country": "JP"}]


@pytest.fixture
def hundred_days(runtime_conn, historical_conn):
    """100 days x 3 contexts of dimension-4 vectors (300 keys: more than one write chunk of 256); EU has no
    regime every seventh day, JP no text every fifth. Returns the expected joint vector per (date, region)."""
    rng = np.random.default_rng(41)
    expected = {}
    for index, day in enumerate(CHUNK_DAYS):
        for context in CHUNK_CONTEXTS:
            region, country = context["region"], context["country"]
            regime = random_vectors(rng, 1, 4)[0]
            if not (region == "EU" and index % 7 == 3):
                insert_regime(runtime_conn, region=region, as_of_date=day, vector=regime)
            text = random_vectors(rng, 1 + index % 3, 4)
            if not (region == "JP" and index % 5 == 1):
                for number, vector in enumerate(text):
                    insert_macro_event(historical_conn, timestamp=utc(day, 2 + number), vector=vector,
                                       country=country)
                if not (region == "EU" and index % 7 == 3):
                    expected[(day, region)] = expected_joint(regime, text)
    return expected


def backfill_hundred_days(capsys, databases) -> tuple[int, str, str]:
    return run_main(capsys, "backfill", "--conf", json.dumps({"contexts": CHUNK_CONTEXTS}), "--no-progress",
                    *dsn_options(databases), "--date-range", CHUNK_DAYS[0].isoformat(), CHUNK_DAYS[-1].isoformat())


def test_a_range_of_several_chunks_writes_every_date_right_one_transaction_per_chunk(capsys, clean_databases,
                                                                                    historical_conn, hundred_days):
    expected = hundred_days
    status, out, err = backfill_hundred_days(capsys, clean_databases)

    assert status == 0, err
    assert "100 date(s), 100 written, 0 skipped (no data for any context), 0 failed" in out
    assert f"joint rows: {len(expected)} new, 0 replaced, {300 - len(expected)} context-days skipped" in out
    rows = stored_rows(historical_conn)
    assert sorted((row[1], row[2]["region"]) for row in rows) == sorted(expected)  # one row per key with data
    for _joint_type, day, scope, _model_id, vector in rows:
        np.testing.assert_allclose(np.frombuffer(vector, dtype="<f4"), expected[(day, scope["region"])],
                                   rtol=1e-6, atol=1e-7)
    # 86 dates x 3 contexts = 258 keys fill the first chunk, the last 14 dates are the second: two transactions
    transactions = historical_conn.execute(
        "SELECT xmin::text, min(as_of_date), max(as_of_date), count(DISTINCT as_of_date) FROM joint_embeddings"
        " GROUP BY 1 ORDER BY 2").fetchall()
    assert [row[1:] for row in transactions] == [(CHUNK_DAYS[0], CHUNK_DAYS[85], 86),
                                                 (CHUNK_DAYS[86], CHUNK_DAYS[99], 14)]


def test_a_database_error_in_a_later_chunk_keeps_the_committed_chunks_and_names_their_last_date(
    capsys, clean_databases, historical_conn, hundred_days
):
    refused_day = CHUNK_DAYS[90]  # in the second chunk
    historical_conn.execute(sql.SQL("ALTER TABLE joint_embeddings ADD CONSTRAINT test_refuse_day"
                                    " CHECK (as_of_date <> {})").format(sql.Literal(refused_day)))
    try:
        status, out, err = backfill_hundred_days(capsys, clean_databases)
    finally:
        historical_conn.execute("ALTER TABLE joint_embeddings DROP CONSTRAINT test_refuse_day")

    assert status == 4 and out == ""  # a constraint is no passing fault: said so, not "rerun"
    assert "database error (CheckViolation, SQLSTATE 23514)" in err
    assert "The database refuses this; rerunning will not help until it is fixed" in err
    assert f"Stopped after {CHUNK_DAYS[85]}. Fix that, then rerun the same command" in err
    assert {row[1] for row in stored_rows(historical_conn)} == set(CHUNK_DAYS[:86])  # the first chunk only

    rerun_status, _out, rerun_err = backfill_hundred_days(capsys, clean_databases)
    assert rerun_status == 0, rerun_err
    assert sorted((row[1], row[2]["region"]) for row in stored_rows(historical_conn)) == sorted(hundred_days)
