"""Concurrent runs on the legacy table (no unique key): one row per key, the right vector, no deadlock.

Writers are separate processes running the write task's code; a shared advisory "gate" held by the test
releases them at the same moment, after each has extracted and aggregated its date.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import psycopg
import pytest

from joint_context.spaces import joint_lock_key
from tests.helpers import joint_rows
from tests.reliability.conftest import DAY, insert_joint_row, scope, seed_day, wait_until, waiting_backends

GATE_KEY = 7_000_000_001


def start_together(databases, writers, seeded, count: int, mode: str):
    """Start ``count`` writers of the same date; half list the contexts in reverse order (opposite lock order)."""
    with psycopg.connect(databases.historical_dsn, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        started = [
            writers(databases, seeded.as_of_date, seeded.conf_reversed() if index % 2 else seeded.params,
                    mode=mode, gate_key=GATE_KEY)
            for index in range(count)
        ]
        wait_until(lambda: len(waiting_backends(gate, lock_type="advisory")) == count,
                   f"{count} writers to reach the gate")
        gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
    return [writer.result() for writer in started]


def assert_one_row_per_key_with_expected_vectors(historical_conn, seeded, untouched):
    rows = joint_rows(historical_conn)
    assert [(row[0], row[1], row[3]) for row in rows] == [("REGIME_MACRO_V0", DAY, "joint-regime-core-v1")] * 3
    by_scope = {}
    for row in rows:
        by_scope.setdefault(row[2]["macro_filters"]["country"], []).append(row)
    assert sorted((country, len(rows_of_key)) for country, rows_of_key in by_scope.items()) == [
        ("DE", 1), ("FR", 1), ("US", 1)]
    np.testing.assert_allclose(by_scope["US"][0][4], seeded.expected["US"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(by_scope["DE"][0][4], seeded.expected["EU"], rtol=1e-6, atol=1e-7)
    assert by_scope["FR"][0][2] == untouched
    np.testing.assert_array_equal(by_scope["FR"][0][4], np.full(16, 9.0))


@pytest.mark.parametrize(("count", "mode"), [(2, "operator"), (8, "pipeline")])
def test_simultaneous_runs_of_one_date_leave_exactly_one_row_per_key(
    clean_databases, runtime_conn, historical_conn, writers, count, mode
):
    seeded = seed_day(runtime_conn, historical_conn)
    for value in (1.0, 2.0, 3.0):  # legacy duplicates of the US key
        insert_joint_row(historical_conn, scope("US", country="US"), np.full(16, value))
    other_scope = scope("US", country="FR")
    insert_joint_row(historical_conn, other_scope, np.full(16, 9.0))

    results = start_together(clean_databases, writers, seeded, count, mode)

    assert [(code, stderr[-500:]) for code, _, stderr in results if code != 0] == []
    assert all(set(result["actions"]) <= {"written", "replaced"} for _, result, _ in results)
    assert_one_row_per_key_with_expected_vectors(historical_conn, seeded, other_scope)


def test_a_date_being_written_does_not_block_another_date(clean_databases, runtime_conn, historical_conn, writers):
    first = seed_day(runtime_conn, historical_conn, DAY)
    second = seed_day(runtime_conn, historical_conn, DAY + timedelta(days=1), seed=6)
    us_scope = scope("US", country="US")
    with psycopg.connect(clean_databases.historical_dsn) as holder:
        # a writer of the first date in the middle of its transaction: it holds that date's US key lock
        holder.execute("SELECT pg_advisory_xact_lock(%s)",
                       (joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", DAY, us_scope),))
        blocked = writers(clean_databases, DAY, first.params)
        other_date = writers(clean_databases, second.as_of_date, second.params)
        code, result, stderr = other_date.result(timeout=60)
        assert (code, result) == (0, {"actions": ["written", "written"]}), stderr
        # the same date's writer is still waiting for the key lock, and has written nothing
        waiting = wait_until(lambda: waiting_backends(historical_conn, lock_type="advisory"),
                             "the first date's writer to wait for its key lock")
        assert len(waiting) == 1 and "pg_advisory_xact_lock" in waiting[0][1]
        assert blocked.process.poll() is None
        assert {row[1] for row in joint_rows(historical_conn)} == {second.as_of_date}
    code, result, stderr = blocked.result(timeout=60)
    assert (code, result) == (0, {"actions": ["written", "written"]}), stderr
    assert sorted((row[1], row[2]["region"]) for row in joint_rows(historical_conn)) == [
        (DAY, "EU"), (DAY, "US"), (second.as_of_date, "EU"), (second.as_of_date, "US")]
