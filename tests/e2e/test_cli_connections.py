"""``joint-context`` and its databases: Airflow connections or libpq DSNs, unreachable or undefined ones."""

from __future__ import annotations

import json
import secrets

import psycopg

from tests.e2e.cli_helpers import (
    MACRO_CONTEXTS,
    MACRO_DATES,
    dsn_options,
    environment_with,
    free_local_port,
    run_cli,
    run_main,
    stored_rows,
)
from tests.e2e.test_cli_backfill import insert_rows_of_an_earlier_run


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


def test_undefined_connection_exits_4_naming_it(capsys, historical_conn):
    status, _out, err = run_main(capsys, "show", "--historical-conn-id", "no_such_conn",
                                 "--date-range", "2025-03-03", "2025-03-04")
    assert status == 4  # defining it is what a rerun needs
    assert "no_such_conn" in err and "AIRFLOW_CONN_" in err


# --- backfill with libpq DSNs instead of Airflow connections ------------------------------------------------

AIRFLOW_PROBE = """
import json, sys
from joint_context.cli import main
status = main(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "airflow")
print(json.dumps({"status": status, "airflow_modules": loaded}))
"""


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
    from joint_context.connections import describe_database_error
    from joint_context.dsn import parse_dsn

    described = describe_database_error(psycopg.OperationalError(f"failed for {unreachable}"),
                                        [parse_dsn(unreachable, "--historical-dsn")])
    for text in (out, err, out_malformed, err_malformed, described):
        assert password not in text
