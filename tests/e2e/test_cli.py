"""The command line (``python -m joint_context``) on seeded databases: the bulk backfill against one DAG run per
date, and ``show`` / ``compare`` numbers against numpy."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import socket
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, insert_news_article, insert_regime, utc
from joint_context.cli import main
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import expected_joint, random_vectors

REPO_ROOT = Path(__file__).resolve().parents[2]
MACRO_DAG_ID = "joint_regime_macro_context"
NEWS_DAG_ID = "joint_regime_news_context"
MACRO_CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}]
D0 = date(2025, 3, 3)
MACRO_DATES = [D0 + timedelta(days=offset) for offset in range(5)]
CLI_TIMEOUT_SECONDS = 180


def run_cli(*args: str, env: dict[str, str] | None = None, program: tuple[str, ...] = ("-m", "joint_context")
            ) -> subprocess.CompletedProcess:
    """``python -m joint_context ...`` as a user runs it: its own process, connections from ``AIRFLOW_CONN_*``
    (or the environment ``env`` given)."""
    env = {**(os.environ if env is None else env),
           "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, *program, *args], env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_SECONDS, cwd=REPO_ROOT)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process: exit status, stdout, stderr (argparse's own errors exit through SystemExit)."""
    try:
        status = main(list(args))
    except SystemExit as exit_request:
        status = exit_request.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def stored_rows(historical_conn) -> list[tuple]:
    """Every joint row as ``(joint_type, as_of_date, entity_scope, model_id, vector bytes)``, in a fixed order."""
    return historical_conn.execute(
        "SELECT joint_type, as_of_date, entity_scope, model_id, vector FROM joint_embeddings"
        " ORDER BY joint_type, as_of_date, entity_scope::text, model_id, vector"
    ).fetchall()


def cosine(first, second) -> float:
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    return float(first @ second / (np.linalg.norm(first) * np.linalg.norm(second)))


# --- backfill: the same rows as the DAG ---------------------------------------------------------------------


@pytest.fixture
def macro_range(runtime_conn, historical_conn):
    """Five days: both contexts written; EU without regime (its stale row present); no text at all; a malformed
    vector (a row from before that must survive); a newer regime row, a NULL regime and a NULL text vector."""
    rng = np.random.default_rng(23)
    d0, d1, d2, d3, d4 = MACRO_DATES
    regimes = {}
    for day, regions in ((d0, ("US", "EU")), (d1, ("US",)), (d2, ("US", "EU")), (d3, ("US", "EU")), (d4, ("US",))):
        for region in regions:
            regimes[(region, day)] = random_vectors(rng, 1)[0]
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=regimes[(region, day)],
                          created_at=utc(day, 6))
    insert_regime(runtime_conn, region="US", as_of_date=d4, vector=random_vectors(rng, 1)[0], created_at=utc(d4, 1))
    insert_regime(runtime_conn, region="EU", as_of_date=d4, vector=None, created_at=utc(d4, 6))
    text = {}
    for day, counts in ((d0, {"US": 3, "DE": 2, "FR": 2}), (d1, {"US": 2, "DE": 2}), (d3, {"US": 2, "DE": 1}),
                        (d4, {"US": 3, "DE": 1})):
        for country, count in counts.items():
            text[(country, day)] = random_vectors(rng, count)
            for index, vector in enumerate(text[(country, day)]):
                insert_macro_event(historical_conn, timestamp=utc(day, 1 + index * 5), vector=vector, country=country)
    insert_macro_event(historical_conn, timestamp=utc(d3, 20), vector=b"\x00" * 7, country="US")
    insert_macro_event(historical_conn, timestamp=utc(d4, 22), vector=None, country="US")
    insert_macro_event(historical_conn, timestamp=utc(d4 + timedelta(days=1)), vector=np.ones(384), country="US")
    return regimes, text


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


@pytest.fixture
def news_range(runtime_conn, historical_conn):
    """Three days of news: English in two spellings and German; EU without regime on day 1; German only on day 2."""
    rng = np.random.default_rng(31)
    e0, e1, e2 = MACRO_DATES[:3]
    for day, regions in ((e0, ("US", "EU")), (e1, ("US",)), (e2, ("US", "EU"))):
        for region in regions:
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=random_vectors(rng, 1)[0])
    for day, languages in ((e0, ("en", "EN", "en", "de")), (e1, ("En", "de")), (e2, ("de", "de"))):
        for index, language in enumerate(languages):
            insert_news_article(historical_conn, timestamp=utc(day, 3 + index), language=language,
                                vector=random_vectors(rng, 1)[0])


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
    (["--conf", "{not json", "--date-range", "2025-03-03", "2025-03-03"], "--conf is not valid JSON"),
    (["--conf", '{"contexts": [{"region": "US"}]}', "--region", "EU", "--date-range", "2025-03-03", "2025-03-03"],
     "either with --region or in --conf"),
    (["--region", "US", "--text-weight", "-1", "--date-range", "2025-03-03", "2025-03-03"],
     "text_weight must be >= 0"),
    (["--region", "US", "--numeric-weight", "0", "--text-weight", "0", "--date-range", "2025-03-03", "2025-03-03"],
     "numeric_weight + text_weight must be > 0"),
    (["--region", "US", "--region", "US", "--date-range", "2025-03-03", "2025-03-03"], "repeats contexts[0]"),
    (["--country", "US", "--date-range", "2025-03-03", "2025-03-03"], "name at least one --region"),
    (["--region", "US", "--date-range", "2025-03-03"], "expected 2 arguments"),
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


def free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_database_exits_3_and_says_to_rerun(capsys, monkeypatch, historical_conn,
                                                                    macro_range):
    port = free_local_port()  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_DOWN_DB", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "postgres", "schema": "postgres"}))
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--runtime-conn-id", "down_db",
                                 "--date-range", "2025-03-03", "2025-03-04")
    assert status == 3
    assert "database error (OperationalError)" in err and str(port) in err
    assert "Stopped before the first date was written. Rerun the same command" in err
    assert "Traceback" not in err


def test_undefined_connection_exits_3_naming_it(capsys, historical_conn):
    status, _out, err = run_main(capsys, "show", "--historical-conn-id", "no_such_conn",
                                 "--date-range", "2025-03-03", "2025-03-04")
    assert status == 3
    assert "no_such_conn" in err and "AIRFLOW_CONN_" in err


# --- backfill with libpq DSNs instead of Airflow connections ------------------------------------------------

CONNECTION_VARIABLES = ("AIRFLOW_CONN_RUNTIME_DB", "AIRFLOW_CONN_HISTORICAL_DB", "JOINT_CONTEXT_RUNTIME_DSN",
                        "JOINT_CONTEXT_HISTORICAL_DSN")
# Runs the CLI's main() and reports, as the last stdout line, its status and every airflow module it loaded.
AIRFLOW_PROBE = """
import json, sys
from joint_context.cli import main
status = main(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "airflow")
print(json.dumps({"status": status, "airflow_modules": loaded}))
"""


def dsn_options(databases) -> tuple[str, ...]:
    return ("--runtime-dsn", databases.runtime_dsn, "--historical-dsn", databases.historical_dsn)


def environment_with(**variables: str) -> dict[str, str]:
    """This process's environment with no database connection variable but the ones given."""
    return {**{key: value for key, value in os.environ.items() if key not in CONNECTION_VARIABLES}, **variables}


def test_dsn_backfill_leaves_byte_identical_rows_to_a_conn_id_backfill(clean_databases, historical_conn,
                                                                       macro_range):
    args = ("backfill", "--conf", json.dumps({"contexts": MACRO_CONTEXTS}), "--no-progress",
            "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat())
    insert_rows_of_an_earlier_run(historical_conn)
    by_conn_ids = run_cli(*args)
    conn_id_rows = stored_rows(historical_conn)

    historical_conn.execute("TRUNCATE joint_embeddings")
    insert_rows_of_an_earlier_run(historical_conn)
    by_dsns = run_cli(*args, *dsn_options(clean_databases), env=environment_with())
    dsn_rows = stored_rows(historical_conn)

    assert (by_conn_ids.returncode, by_dsns.returncode) == (1, 1), by_dsns.stderr  # the bad-vector date fails
    assert len(dsn_rows) == 5 and dsn_rows == conn_id_rows
    assert by_dsns.stdout == by_conn_ids.stdout
    assert "3 written, 1 skipped (no data for any context), 1 failed" in by_dsns.stdout


def test_a_dsn_backfill_never_imports_airflow(clean_databases, historical_conn, macro_range):
    args = ("backfill", "--region", "US", "--country", "US", "--no-progress",
            "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[2].isoformat())
    with_dsns = run_cli(*args, program=("-c", AIRFLOW_PROBE), env=environment_with(
        JOINT_CONTEXT_RUNTIME_DSN=clean_databases.runtime_dsn,
        JOINT_CONTEXT_HISTORICAL_DSN=clean_databases.historical_dsn))
    dsn_rows = stored_rows(historical_conn)
    historical_conn.execute("TRUNCATE joint_embeddings")
    # the control: the probe does see Airflow when the same command goes through Airflow connections
    with_conn_ids = run_cli(*args, program=("-c", AIRFLOW_PROBE),
                            env=environment_with(**clean_databases.connection_env))

    probed = {mode: json.loads(run.stdout.splitlines()[-1]) for mode, run in (("dsn", with_dsns),
                                                                               ("conn_ids", with_conn_ids))}
    assert probed["dsn"] == {"status": 0, "airflow_modules": []}, with_dsns.stderr
    assert probed["conn_ids"]["status"] == 0 and "airflow" in probed["conn_ids"]["airflow_modules"]
    assert len(dsn_rows) == 2 and stored_rows(historical_conn) == dsn_rows


def test_a_dsn_and_a_conn_id_for_one_database_is_a_usage_error(capsys, clean_databases):
    status, _out, err = run_main(capsys, "show", "--historical-conn-id", "historical_db",
                                 "--historical-dsn", clean_databases.historical_dsn,
                                 "--date-range", "2025-03-03", "2025-03-04")
    assert status == 2
    assert "argument --historical-dsn: not allowed with argument --historical-conn-id" in err


def test_the_dsn_variable_replaces_the_default_conn_id_but_not_an_explicit_one(capsys, monkeypatch, clean_databases,
                                                                               stored_macro_series):
    unreachable = psycopg.conninfo.make_conninfo(clean_databases.historical_dsn, host="127.0.0.1",
                                                 port=free_local_port())
    monkeypatch.setenv("JOINT_CONTEXT_HISTORICAL_DSN", unreachable)
    args = ("show", "--region", "US", "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[1].isoformat())
    status, _out, err = run_main(capsys, *args)
    assert status == 3 and "database error (OperationalError)" in err  # the variable's database was used
    status, out, err = run_main(capsys, *args, "--historical-conn-id", "historical_db")
    assert status == 0 and MACRO_DATES[1].isoformat() in out, err


def test_a_dsn_password_is_never_printed(capsys, clean_databases, macro_range):
    password = f"pw-{secrets.token_urlsafe(12)}"
    unreachable = psycopg.conninfo.make_conninfo(clean_databases.historical_dsn, host="127.0.0.1",
                                                 port=free_local_port(), password=password)
    status, out, err = run_main(capsys, "backfill", "--region", "US", "--runtime-dsn", unreachable,
                                "--historical-dsn", unreachable, "--date-range", "2025-03-03", "2025-03-04")
    assert status == 3 and "database error (OperationalError)" in err
    assert "Stopped before the first date was written" in err
    # libpq quotes what it cannot parse: here, the password itself
    malformed = f"host=127.0.0.1 dbname=x {password}"
    status_malformed, out_malformed, err_malformed = run_main(
        capsys, "show", "--historical-dsn", malformed, "--date-range", "2025-03-03", "2025-03-04")
    assert status_malformed == 2 and "--historical-dsn is not a libpq connection string" in err_malformed
    from joint_context.cli import describe_database_error
    from joint_context.dsn import parse_dsn

    described = describe_database_error(psycopg.OperationalError(f"failed for {unreachable}"),
                                        [parse_dsn(unreachable, "--historical-dsn")])
    for text in (out, err, out_malformed, err_malformed, described):
        assert password not in text


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

    assert status == 3 and out == ""
    assert "database error (CheckViolation)" in err
    assert f"Stopped after {CHUNK_DAYS[85]}. Rerun the same command" in err
    assert {row[1] for row in stored_rows(historical_conn)} == set(CHUNK_DAYS[:86])  # the first chunk only

    rerun_status, _out, rerun_err = backfill_hundred_days(capsys, clean_databases)
    assert rerun_status == 0, rerun_err
    assert sorted((row[1], row[2]["region"]) for row in stored_rows(historical_conn)) == sorted(hundred_days)


# --- show -------------------------------------------------------------------------------------------------


@pytest.fixture
def stored_macro_series(historical_conn):
    """US [country=US] vectors before and in the range (a gap, a legacy duplicate, a NULL vector), and rows that
    ``show --region US`` must leave out (another region, another space) or list as their own series."""
    rng = np.random.default_rng(5)
    vectors = {name: rng.normal(size=8).astype(np.float32) for name in ("before", "d0", "d1", "d1_old", "d3", "v2")}
    us = macro_scope("US", country="US")
    d0, d1, _d2, d3, d4 = MACRO_DATES
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0 - timedelta(days=3), us, vectors["before"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0, us, vectors["d0"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["d1_old"], created_at=utc(d1, 1))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["d1"], created_at=utc(d1, 2))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d3, us, vectors["d3"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d4, us, None)
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["v2"], model_id="joint-regime-core-v2")
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0, macro_scope("EU", country="DE"), np.ones(8))
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", d0, news_scope("US"), np.ones(8))
    return vectors


def test_show_csv_lists_norms_and_cosine_to_the_previous_available_day(capsys, stored_macro_series):
    vectors = stored_macro_series
    d0, d1, _d2, d3, d4 = MACRO_DATES
    status, out, err = run_main(capsys, "show", "--region", "US", "--date-range", d0.isoformat(), d4.isoformat(),
                                "--csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["as_of_date"], r["region"], r["filters"], r["model_id"]) for r in rows] == [
        (d0.isoformat(), "US", "country=US", "joint-regime-core-v1"),
        (d1.isoformat(), "US", "country=US", "joint-regime-core-v1"),
        (d3.isoformat(), "US", "country=US", "joint-regime-core-v1"),
        (d4.isoformat(), "US", "country=US", "joint-regime-core-v1"),
        (d1.isoformat(), "US", "country=US", "joint-regime-core-v2"),
    ]
    expected = [  # (vector, previous vector, previous date)
        (vectors["d0"], vectors["before"], d0 - timedelta(days=3)),
        (vectors["d1"], vectors["d0"], d0),  # the newer of the two d1 rows
        (vectors["d3"], vectors["d1"], d1),  # d2 has no row: the previous available day is d1
    ]
    for row, (vector, previous, previous_date) in zip(rows, expected, strict=False):
        assert int(row["dim"]) == 8
        assert float(row["l2_norm"]) == pytest.approx(np.linalg.norm(vector.astype(np.float64)), rel=1e-12)
        assert float(row["cosine_prev"]) == pytest.approx(cosine(vector, previous), rel=1e-12)
        assert row["prev_date"] == previous_date.isoformat()
    assert "2 rows hold this key" in rows[1]["note"]
    assert (rows[3]["dim"], rows[3]["l2_norm"], rows[3]["cosine_prev"], rows[3]["note"]) == ("", "", "", "NULL vector")
    assert (rows[4]["cosine_prev"], rows[4]["prev_date"]) == ("", "")  # its own series starts there


def test_show_table_is_readable_and_rounds_to_six_places(capsys, stored_macro_series):
    vectors = stored_macro_series
    d0, d1 = MACRO_DATES[:2]
    status, out, _err = run_main(capsys, "show", "--space", MACRO_DAG_ID, "--region", "US",
                                 "--date-range", d0.isoformat(), d1.isoformat(), "--joint-model-id",
                                 "joint-regime-core-v1")
    assert status == 0
    lines = out.splitlines()
    assert lines[1].split() == ["as_of_date", "region", "filters", "model_id", "dim", "l2_norm", "cosine_prev",
                                "prev_date", "note"]
    d1_line = next(line for line in lines if line.startswith(d1.isoformat()))
    assert f"{np.linalg.norm(vectors['d1'].astype(np.float64)):.6f}" in d1_line
    assert f"{cosine(vectors['d1'], vectors['d0']):.6f}" in d1_line
    assert "joint-regime-core-v2" not in out


def test_show_says_so_when_there_is_nothing(capsys, stored_macro_series):
    status, out, err = run_main(capsys, "show", "--region", "JP", "--date-range", "2025-03-03", "2025-03-07")
    assert status == 0 and out == ""
    assert "No REGIME_MACRO_V0 joint vectors for JP between 2025-03-03 and 2025-03-07" in err


# --- compare ----------------------------------------------------------------------------------------------


@pytest.fixture
def two_spaces(historical_conn):
    """US: macro [country=US] on d0, d1, d3; news [language=en] on d0..d3 and [language=de] on d0, d1."""
    rng = np.random.default_rng(9)
    d0, d1, d2, d3 = MACRO_DATES[:4]
    macro = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1, d3)}
    news_en = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1, d2, d3)}
    news_de = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1)}
    for day, vector in macro.items():
        insert_joint_row(historical_conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), vector)
    for language, series in (("en", news_en), ("de", news_de)):
        for day, vector in series.items():
            insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", day, news_scope("US", language=language), vector)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", d0, news_scope("EU", language="en"), np.ones(8))
    return macro, news_en, news_de


MACRO_US = "REGIME_MACRO_V0 [country=US]"
NEWS_EN = "REGIME_CONTEXT_V0 [language=en]"
NEWS_DE = "REGIME_CONTEXT_V0 [language=de]"


def test_compare_gives_same_day_and_day_over_day_cosines_matching_numpy(capsys, two_spaces, tmp_path):
    macro, news_en, news_de = two_spaces
    d0, d1, d2, d3 = MACRO_DATES[:4]
    plot = tmp_path / "plots" / "us.png"
    status, out, err = run_main(capsys, "compare", "--region", "US", "--date-range", d0.isoformat(), d3.isoformat(),
                                "--csv", "--plot", str(plot))
    assert status == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["as_of_date"] for row in table] == [day.isoformat() for day in (d0, d1, d2, d3)]
    columns = {
        f"same day: {MACRO_US} vs {NEWS_EN}": {day: cosine(macro[day], news_en[day]) for day in (d0, d1, d3)},
        f"same day: {MACRO_US} vs {NEWS_DE}": {day: cosine(macro[day], news_de[day]) for day in (d0, d1)},
        f"day over day: {MACRO_US}": {d1: cosine(macro[d1], macro[d0]), d3: cosine(macro[d3], macro[d1])},
        f"day over day: {NEWS_EN}": {day: cosine(news_en[day], news_en[day - timedelta(days=1)])
                                     for day in (d1, d2, d3)},
        f"day over day: {NEWS_DE}": {d1: cosine(news_de[d1], news_de[d0])},
    }
    assert set(table[0]) == {"as_of_date", *columns}
    for row in table:
        day = date.fromisoformat(row["as_of_date"])
        for column, expected in columns.items():
            if day in expected:
                assert float(row[column]) == pytest.approx(expected[day], rel=1e-12), (column, day)
            else:
                assert row[column] == "", (column, day)
    assert_plot_is_a_real_picture(plot)


def assert_plot_is_a_real_picture(plot: Path) -> None:
    from matplotlib import image

    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    pixels = image.imread(plot)
    assert pixels.ndim == 3 and pixels.shape[0] >= 400 and pixels.shape[1] >= 600
    colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
    assert len(colours) > 50  # lines, markers, text and antialiasing, not a blank canvas
    assert (pixels[..., :3] < 0.5).mean() > 0.005  # dark ink: axes, labels, lines


def test_compare_filter_options_pick_one_scope_per_space(capsys, two_spaces):
    macro, news_en, _news_de = two_spaces
    d0, d1 = MACRO_DATES[:2]
    status, out, _err = run_main(capsys, "compare", "--region", "US", "--date-range", d0.isoformat(), d1.isoformat(),
                                 "--news-filters", '{"language": "en"}', "--macro-filters", '{"country": "US"}')
    assert status == 0
    assert f"[1] same day: {MACRO_US} vs {NEWS_EN}" in out
    assert NEWS_DE not in out
    d1_line = next(line for line in out.splitlines() if line.startswith(d1.isoformat()))
    assert d1_line.split()[1] == f"{cosine(macro[d1], news_en[d1]):.6f}"


def test_compare_without_data_writes_no_plot_and_exits_1(capsys, two_spaces, tmp_path):
    plot = tmp_path / "empty.png"
    status, out, err = run_main(capsys, "compare", "--region", "JP", "--date-range", "2025-03-03", "2025-03-07",
                                "--plot", str(plot))
    assert status == 1 and out == ""
    assert "No joint vectors of REGIME_MACRO_V0 or REGIME_CONTEXT_V0 for region JP" in err
    assert not plot.exists()


def test_compare_rejects_a_filter_the_space_does_not_have(capsys, two_spaces):
    status, _out, err = run_main(capsys, "compare", "--region", "US", "--date-range", "2025-03-03", "2025-03-07",
                                 "--news-filters", '{"country": "US"}')
    assert status == 2
    assert "--news-filters: ['country'] not a filter of REGIME_CONTEXT_V0" in err


def test_show_binds_the_region_so_a_quote_is_only_data(clean_databases, stored_macro_series):
    """Run as its own process, `show` binds the region: a quote in it matches that region and breaks nothing."""
    with psycopg.connect(clean_databases.historical_dsn, autocommit=True) as conn:
        insert_joint_row(conn, "REGIME_MACRO_V0", MACRO_DATES[0], macro_scope("U'S"), np.ones(8))
    env_status = run_cli("show", "--region", "U'S", "--date-range", "2025-03-03", "2025-03-03", "--csv")
    assert env_status.returncode == 0, env_status.stderr
    rows = list(csv.DictReader(io.StringIO(env_status.stdout)))
    assert [(row["region"], row["dim"], row["l2_norm"]) for row in rows] == [("U'S", "8", repr(float(np.sqrt(8))))]
