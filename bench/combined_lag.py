"""How the combined space keeps up on a real scheduler: a 31-day backfill of each base space, and the combined
runs its asset events trigger (how many, and how long after each event its date was recomputed).

    .venv/bin/python -m bench.combined_lag [--admin-dsn DSN] [--max-active-runs 4]

The demo's January 2025 (``devtools.seed``: macro events on weekdays, news every day, two regions) in databases
of its own; one Airflow 3 stack (``devtools.airflow.stack``) on ``dags/``; the combined DAG unpaused with its
default context (US, ``country=US``), then the news DAG backfilled over the month, then the macro DAG. Not part
of ``bench.run``: it takes minutes and measures the scheduler more than the package.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg

from devtools import localdb
from devtools.airflow.stack import AirflowStack
from devtools.paths import REPO_ROOT
from devtools.seed import DEMO_DAYS, DEMO_FIRST_DATE, seed_demo

COMBINED_DAG_ID = "joint_regime_combined_context"
BASE_DAGS = {"news": "joint_regime_news_context", "macro": "joint_regime_macro_context"}  # in backfill order


def settled(stack: AirflowStack, quiet_seconds: float = 15.0, timeout: float = 900.0) -> None:
    """Until no combined run is queued or running and no asset event waits, for ``quiet_seconds`` in a row."""
    quiet_since = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = stack.query(
            "SELECT (SELECT count(*) FROM dag_run WHERE dag_id = %(d)s AND state IN ('queued', 'running'))"
            " + (SELECT count(*) FROM asset_dag_run_queue WHERE target_dag_id = %(d)s) AS n",
            {"d": COMBINED_DAG_ID})[0]["n"]
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        time.sleep(1)
    raise TimeoutError("the combined runs did not settle")


def phase(stack: AirflowStack, dag_id: str, first: date, last: date, max_active_runs: int) -> dict:
    """Backfill one base DAG; then what the combined DAG did about its events."""
    runs_before = {run.run_id for run in stack.dag_runs(COMBINED_DAG_ID, run_type="asset_triggered")}
    backfill_id = stack.backfill(dag_id, first, last, max_active_runs=max_active_runs)
    base_runs = stack.wait_for_backfill(backfill_id, timeout=1800)
    settled(stack)
    runs = [run for run in stack.dag_runs(COMBINED_DAG_ID, run_type="asset_triggered") if run.run_id not in runs_before]
    events = stack.query(
        "SELECT ae.id, ae.timestamp, ae.extra FROM asset_event ae JOIN dag_run dr ON dr.run_id = ae.source_run_id"
        " AND dr.dag_id = ae.source_dag_id WHERE ae.source_dag_id = %(dag)s AND dr.backfill_id = %(b)s",
        {"dag": dag_id, "b": backfill_id})
    consumed = {row["event_id"]: row["run_id"] for row in stack.query(
        "SELECT dae.event_id, dr.run_id FROM dagrun_asset_event dae JOIN dag_run dr ON dr.id = dae.dag_run_id"
        " WHERE dr.dag_id = %(d)s", {"d": COMBINED_DAG_ID})}
    ends = {row["run_id"]: row for row in stack.query(
        "SELECT run_id, queued_at, end_date FROM dag_run WHERE dag_id = %(d)s", {"d": COMBINED_DAG_ID})}
    lags = []
    for event in events:
        if event["id"] in consumed:
            run = ends[consumed[event["id"]]]
        else:  # left unconsumed by the scheduler: the first run created after it recomputes its date
            run = min((ends[run.run_id] for run in runs if ends[run.run_id]["queued_at"] >= event["timestamp"]),
                      key=lambda row: row["queued_at"], default=None)
        if run is not None and run["end_date"] is not None:
            lags.append((run["end_date"] - event["timestamp"]).total_seconds())
    return {
        "base_dag": dag_id, "base_runs": len(base_runs),
        "base_runs_succeeded": sum(run.state == "success" for run in base_runs), "events": len(events),
        "events_consumed": sum(event["id"] in consumed for event in events),
        "combined_runs": len(runs), "combined_runs_succeeded": sum(run.state == "success" for run in runs),
        "lag_seconds": {"min": round(min(lags), 1), "median": round(sorted(lags)[len(lags) // 2], 1),
                        "max": round(max(lags), 1)} if lags else None,
        "events_without_a_later_run": len(events) - len(lags),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--max-active-runs", type=int, default=4)
    args = parser.parse_args(argv)
    suffix = uuid.uuid4().hex[:8]
    names = {"runtime": f"jc_lag_runtime_{suffix}", "historical": f"jc_lag_historical_{suffix}"}
    dsns = {role: localdb.create_database(args.admin_dsn, name, f"{role}_db.sql") for role, name in names.items()}
    last = date.fromordinal(DEMO_FIRST_DATE.toordinal() + DEMO_DAYS - 1)
    try:
        with psycopg.connect(dsns["runtime"]) as runtime_conn, psycopg.connect(dsns["historical"]) as historical_conn:
            seed_demo(runtime_conn, historical_conn)
        extra_env = {f"AIRFLOW_CONN_{role.upper()}_DB": localdb.airflow_connection_json(dsn)
                     for role, dsn in dsns.items()}
        with tempfile.TemporaryDirectory(prefix="jc-combined-lag-") as work_dir, AirflowStack(
                admin_dsn=args.admin_dsn, work_dir=Path(work_dir), dags_folder=REPO_ROOT / "dags",
                extra_env=extra_env) as stack:
            stack.wait_for_dags([COMBINED_DAG_ID, *BASE_DAGS.values()])
            for dag_id in (COMBINED_DAG_ID, *BASE_DAGS.values()):
                stack.unpause(dag_id)
            settled(stack)  # the combined DAG's one scheduled run of the latest day
            results = [phase(stack, dag_id, DEMO_FIRST_DATE, last, args.max_active_runs)
                       for dag_id in BASE_DAGS.values()]
        with psycopg.connect(dsns["historical"]) as conn:
            (rows,) = conn.execute("SELECT count(*) FROM joint_embeddings WHERE joint_type = 'REGIME_COMBINED_V0'"
                                   ).fetchone()
        print(json.dumps({"days": DEMO_DAYS, "phases": results, "combined_rows": rows}, indent=1))
    finally:
        for name in names.values():
            localdb.drop_database(args.admin_dsn, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
