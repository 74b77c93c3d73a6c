"""1c. What every task pays whatever the data: a connection through ``PostgresHook``, one through psycopg, one
round trip."""

from __future__ import annotations

import time

from bench.report import Report, timing_summary
from bench.workload import Scale


def measure_fixed_costs(report: Report, results: dict, history, conn_ids: tuple[str, str], scale: Scale) -> None:
    """What every task pays whatever the data: a connection through ``PostgresHook``, one round trip."""
    import psycopg

    from joint_context.operators import connection

    samples: dict[str, list[float]] = {"hook_connect_close": [], "psycopg_connect_close": [], "round_trip": []}
    for _sample in range(10 * scale.repeats):
        started = time.perf_counter()
        with connection(conn_ids[1]):
            pass
        samples["hook_connect_close"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with psycopg.connect(history.historical_dsn):
            pass
        samples["psycopg_connect_close"].append(time.perf_counter() - started)
    with psycopg.connect(history.historical_dsn, autocommit=True) as conn:
        for _sample in range(20 * scale.repeats):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            samples["round_trip"].append(time.perf_counter() - started)
    entry = {name: timing_summary(values) for name, values in samples.items()}
    results["fixed_costs"] = entry
    report.table(
        "1c. Fixed costs per task, whatever the history (median ms)",
        ["connection through PostgresHook (open+close)", "psycopg.connect (open+close)", "one round trip (SELECT 1)"],
        [[entry["hook_connect_close"]["median_ms"], entry["psycopg_connect_close"]["median_ms"],
          entry["round_trip"]["median_ms"]]],
        note="A date's task bodies open 3 connections (extract: 2, write: 1) and make about 14 round trips: "
             "a statement timeout and its commit per connection, the regime query, one streamed query per "
             "filter set, the rollbacks ending the reads, then one lock, one DELETE and one INSERT for all keys "
             "and the commit.",
    )
