"""Faults in the middle of a write: a killed writer and a statement that would hang both leave the table as it was."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from joint_context.config import RunConfig
from joint_context.dag_factory import build_joint_context_dag
from joint_context.operators import ExtractJointInputsOperator, WriteJointEmbeddingsOperator
from joint_context.pipeline import aggregate_day, extract_day
from joint_context.spaces import REGIME_MACRO_V0, joint_lock_key
from tests.helpers import joint_rows
from tests.reliability.conftest import (
    DAY,
    all_joint_rows,
    insert_joint_row,
    scope,
    seed_day,
    wait_until,
    waiting_backends,
)

# If the package's timeout did not fire, the blocker itself is ended after this long, and the test fails.
BLOCKER_GIVES_UP = "15s"


def blocker(dsn: str) -> psycopg.Connection:
    """A connection whose open transaction blocks the writer; it cannot outlive a broken test for long."""
    conn = psycopg.connect(dsn)
    conn.execute(f"SET idle_in_transaction_session_timeout = '{BLOCKER_GIVES_UP}'")
    conn.commit()
    return conn


def test_writer_killed_mid_transaction_leaves_previous_rows_and_a_rerun_converges(
    clean_databases, runtime_conn, historical_conn, writers
):
    seeded = seed_day(runtime_conn, historical_conn)
    us_scope, eu_scope = scope("US", country="US"), scope("EU", country="DE")
    insert_joint_row(historical_conn, us_scope, np.full(16, 1.0))
    insert_joint_row(historical_conn, us_scope, np.full(16, 1.5))  # a legacy duplicate
    insert_joint_row(historical_conn, eu_scope, np.full(16, 2.0))
    before = all_joint_rows(historical_conn)

    with blocker(clean_databases.historical_dsn) as holder:
        holder.execute("SELECT 1 FROM joint_embeddings WHERE entity_scope = %s FOR UPDATE",
                       (psycopg.types.json.Jsonb(eu_scope),))
        writer = writers(clean_databases, DAY, seeded.params, application_name="jc-killed-writer")
        # the writer has replaced the US key in its transaction (it holds a transaction id) and waits on EU
        (pid, query), = wait_until(lambda: waiting_backends(historical_conn), "the writer to block on the EU rows")
        state = historical_conn.execute(
            "SELECT application_name, backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        assert state == ("jc-killed-writer", True) and "DELETE FROM joint_embeddings" in query
        assert historical_conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        code, result, _ = writer.result(timeout=60)
        holder.rollback()
    assert code == 1 and result["error"] in ("AdminShutdown", "OperationalError"), result

    assert all_joint_rows(historical_conn) == before

    code, result, stderr = writers(clean_databases, DAY, seeded.params).result(timeout=60)
    assert (code, result) == (0, {"actions": ["replaced", "replaced"]}), stderr
    rows = {row[2]["region"]: row for row in joint_rows(historical_conn)}
    assert len(joint_rows(historical_conn)) == 2
    np.testing.assert_allclose(rows["US"][4], seeded.expected["US"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows["EU"][4], seeded.expected["EU"], rtol=1e-6, atol=1e-7)


def operator_context(params: dict) -> dict:
    return {"params": params, "dag_run": None}


def test_statement_timeout_fails_a_stuck_extract_instead_of_hanging(
    clean_databases, runtime_conn, historical_conn
):
    seeded = seed_day(runtime_conn, historical_conn)
    extract = ExtractJointInputsOperator(task_id="extract", space=REGIME_MACRO_V0, as_of_date=DAY.isoformat(),
                                         statement_timeout=timedelta(seconds=1))
    with blocker(clean_databases.historical_dsn) as holder:
        # stands in for a pathological day: the text query cannot finish while this lock is held
        holder.execute("LOCK TABLE macro_events IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to statement timeout"):
            extract.execute(operator_context(seeded.params))
        assert holder.execute("SELECT 1").fetchone() == (1,), "the blocker must still hold the lock"
    assert joint_rows(historical_conn) == []


def test_statement_timeout_fails_a_stuck_write_and_keeps_the_previous_rows(
    clean_databases, runtime_conn, historical_conn
):
    seeded = seed_day(runtime_conn, historical_conn)
    insert_joint_row(historical_conn, scope("EU", country="DE"), np.full(16, 2.0))
    before = all_joint_rows(historical_conn)
    config = RunConfig.from_params(REGIME_MACRO_V0, seeded.params)
    with (
        psycopg.connect(clean_databases.runtime_dsn) as runtime,
        psycopg.connect(clean_databases.historical_dsn) as historical,
    ):
        results = aggregate_day(extract_day(runtime, historical, config, DAY), config)
    write = WriteJointEmbeddingsOperator(
        task_id="write", space=REGIME_MACRO_V0, statement_timeout=timedelta(seconds=1),
        aggregated={"as_of_date": DAY.isoformat(), "results": [result.to_xcom() for result in results]},
    )
    with blocker(clean_databases.historical_dsn) as holder:
        # another writer of the EU key that never finishes its transaction
        holder.execute("SELECT pg_advisory_xact_lock(%s)",
                       (joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", DAY, scope("EU", country="DE")),))
        with pytest.raises(psycopg.errors.QueryCanceled, match="canceling statement due to statement timeout"):
            write.execute(operator_context(seeded.params))
        assert holder.execute("SELECT 1").fetchone() == (1,), "the blocker must still hold the lock"
    assert all_joint_rows(historical_conn) == before


def test_the_dag_sets_a_statement_timeout_on_every_task_that_queries():
    dag = build_joint_context_dag(REGIME_MACRO_V0, doc_md="probe")
    timeouts = {task.task_id: getattr(task, "statement_timeout", "absent") for task in dag.tasks}
    assert timeouts == {"wait_for_regimes": timedelta(minutes=10), "extract": timedelta(minutes=10),
                        "aggregate": "absent", "write": timedelta(minutes=10)}


def test_the_bulk_command_line_has_the_dags_statement_timeout_and_a_stuck_read_fails_with_it(
    clean_databases, runtime_conn, historical_conn, capsys
):
    from joint_context.cli import build_parser, main
    from joint_context.connections import DEFAULT_STATEMENT_TIMEOUT

    args = ["backfill", "--region", "US", "--date-range", DAY.isoformat(), DAY.isoformat()]
    assert build_parser().parse_args(args).statement_timeout == DEFAULT_STATEMENT_TIMEOUT == timedelta(minutes=10)
    seeded = seed_day(runtime_conn, historical_conn)
    dsns = ["--runtime-dsn", clean_databases.runtime_dsn, "--historical-dsn", clean_databases.historical_dsn]
    with blocker(clean_databases.historical_dsn) as holder:
        holder.execute("LOCK TABLE macro_events IN ACCESS EXCLUSIVE MODE")
        status = main(["backfill", "--conf", json.dumps(seeded.params), "--no-progress", "--statement-timeout", "1s",
                       *dsns, "--date-range", DAY.isoformat(), DAY.isoformat()])
    err = capsys.readouterr().err
    assert status == 3, err  # a cancelled query may pass: rerun
    assert "canceling statement due to statement timeout" in err and "SQLSTATE 57014" in err
    assert joint_rows(historical_conn) == []
