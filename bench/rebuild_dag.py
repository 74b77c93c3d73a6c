"""7. The rebuild DAG vs the bulk CLI vs per-date runs: the whole x10 macro history (three contexts).

On the same databases and range, one after the other:
- the rebuild DAG (``joint_regime_macro_context_rebuild``) through ``dag.test`` in a child process of its own
  (Airflow home with a SQLite metadata database, migrated first; Airflow start-up, the migration, DAG parsing and
  a first one-day ``dag.test`` are excluded: the clock runs around each timed ``dag.test`` only), with
  ``chunk_days`` 92 (the default) and 366;
- the bulk CLI (``python -m joint_context backfill``, its own process, start-up included) with DSNs;
- a per-date sample: ``joint_regime_macro_context`` through ``dag.test`` for ``scale.dates`` dates in the same
  child, projected to the range (mean seconds per date x days). This is a floor of a real per-date backfill, which
  also starts four task processes per date (``--airflow``'s table 5 measures that through a scheduler; when it ran,
  its seconds per date are projected too).
With ``--airflow``, the rebuild DAG also runs through a real scheduler (``devtools.airflow.stack``: LocalExecutor,
parallelism 4, chunks in parallel): the run's start to its end, from the metadata database.
The rows the rebuild DAG leaves are checked against the CLI's: the same count.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.cli_rebuild import run_backfill, vacuum_joint_embeddings
from bench.workload import LAST_DATE, MACRO_CONTEXTS
from devtools.localdb import airflow_connection_json
from devtools.paths import REPO_ROOT
from joint_context.spaces import REGIME_MACRO_V0

REBUILD_DAG_ID = f"{REGIME_MACRO_V0.dag_id}_rebuild"
CHUNK_DAYS = (92, 366)  # the default (a quarter), and a year: Airflow's cost per task instance times fewer chunks
CHILD_TIMEOUT_SECONDS = 3600


def child(first_date: str, last_date: str, sample_dates: list[str], contexts: list[dict]) -> dict:
    """In the child process: the rebuild DAG over the range, then the per-date DAG on each sample date."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    if bag.import_errors:
        raise RuntimeError(bag.import_errors)
    conf = {"contexts": contexts}
    started = time.perf_counter()  # warm-up, untimed: the first dag.test syncs the bundle and starts the API app
    bag.dags[REBUILD_DAG_ID].test(run_conf={**conf, "first_date": last_date, "last_date": last_date})
    warm_up_seconds = time.perf_counter() - started
    rebuild_seconds, states = {}, []
    for chunk_days in CHUNK_DAYS:
        started = time.perf_counter()
        dag_run = bag.dags[REBUILD_DAG_ID].test(run_conf={**conf, "first_date": first_date, "last_date": last_date,
                                                           "chunk_days": chunk_days})
        rebuild_seconds[str(chunk_days)] = time.perf_counter() - started
        states.append(str(getattr(dag_run.state, "value", dag_run.state)))
    per_date = []
    for day in sample_dates:
        logical_date = pendulum.parse(day).in_timezone("UTC")
        started = time.perf_counter()
        run = bag.dags[REGIME_MACRO_V0.dag_id].test(logical_date=logical_date, run_conf=conf)
        per_date.append(time.perf_counter() - started)
        states.append(str(getattr(run.state, "value", run.state)))
    return {"rebuild_seconds": rebuild_seconds, "per_date_seconds": per_date, "states": states,
            "warm_up_seconds": warm_up_seconds}


def run_child(history, first_date: date, last_date: date, sample_dates: list[date], contexts: list[dict]) -> dict:
    with tempfile.TemporaryDirectory(prefix="jc-bench-rebuild-dag-") as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update({
            "AIRFLOW_HOME": home, "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_RUNTIME_DB": airflow_connection_json(history.runtime_dsn),
            "AIRFLOW_CONN_HISTORICAL_DB": airflow_connection_json(history.historical_dsn),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        })
        subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True,
                       capture_output=True, timeout=600)
        arguments = json.dumps([first_date.isoformat(), last_date.isoformat(),
                                [day.isoformat() for day in sample_dates], contexts])
        completed = subprocess.run([sys.executable, "-m", "bench.rebuild_dag", arguments], env=env, cwd=REPO_ROOT,
                                   capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"rebuild DAG child exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_scheduler(admin_dsn: str, history, first_date: date, last_date: date, chunk_days: int = 92) -> dict:
    """Seconds of one rebuild run through a real scheduler (LocalExecutor): queued→end and start→end."""
    import shutil

    from devtools.airflow.stack import AirflowStack

    extra_env = {"AIRFLOW_CONN_RUNTIME_DB": airflow_connection_json(history.runtime_dsn),
                 "AIRFLOW_CONN_HISTORICAL_DB": airflow_connection_json(history.historical_dsn)}
    with tempfile.TemporaryDirectory(prefix="jc-bench-rebuild-stack-") as work_dir:
        dags_folder = Path(work_dir) / "dags"
        dags_folder.mkdir()
        shutil.copy(REPO_ROOT / "dags" / f"{REBUILD_DAG_ID}.py", dags_folder)
        with AirflowStack(admin_dsn=admin_dsn, work_dir=Path(work_dir), dags_folder=dags_folder,
                          extra_env=extra_env) as stack:
            stack.wait_for_dags([REBUILD_DAG_ID])
            stack.unpause(REBUILD_DAG_ID)
            conf = {"contexts": MACRO_CONTEXTS, "first_date": first_date.isoformat(),
                    "last_date": last_date.isoformat(), "chunk_days": chunk_days}
            stack.airflow("dags", "trigger", REBUILD_DAG_ID, "-c", json.dumps(conf))
            (run,) = stack.wait_for_runs(REBUILD_DAG_ID, lambda runs: len(runs) == 1 and runs[0].state in (
                "success", "failed"), timeout=CHILD_TIMEOUT_SECONDS, what="the rebuild run to finish")
            if run.state != "success":
                raise RuntimeError(f"the scheduled rebuild run failed:\n{stack.log_tails()}")
            (row,) = stack.query(
                "SELECT extract(epoch FROM end_date - queued_at) AS queued_to_end,"
                " extract(epoch FROM end_date - start_date) AS start_to_end FROM dag_run"
                " WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s", {"dag_id": REBUILD_DAG_ID, "run_id": run.run_id})
    return {key: round(float(value), 2) for key, value in row.items()}


def joint_row_count(history, first_date: date, last_date: date) -> int:
    with psycopg.connect(history.historical_dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM joint_embeddings WHERE joint_type = %s AND as_of_date BETWEEN %s AND %s",
            (REGIME_MACRO_V0.joint_type, first_date, last_date)).fetchone()[0]


def measure(history, *, last_date: date, sample_dates: int, airflow_seconds_per_date: float | None = None,
            scheduler_admin_dsn: str | None = None) -> dict:
    days = history.spec.macro_days
    first_date = last_date - timedelta(days=days - 1)
    step = max(days // max(sample_dates, 1), 1)
    samples = [last_date - timedelta(days=offset * step) for offset in range(sample_dates)]
    vacuum_joint_embeddings(history)
    dag = run_child(history, first_date, last_date, samples, MACRO_CONTEXTS)
    if dag["states"] != ["success"] * (len(CHUNK_DAYS) + len(samples)):
        raise RuntimeError(f"a benchmark DAG run did not succeed: {dag['states']}")
    dag_rows = joint_row_count(history, first_date, last_date)
    vacuum_joint_embeddings(history)
    cli_seconds = run_backfill(history, REGIME_MACRO_V0, MACRO_CONTEXTS, first_date, last_date)
    cli_rows = joint_row_count(history, first_date, last_date)
    if dag_rows != cli_rows:
        raise RuntimeError(f"the rebuild DAG left {dag_rows} rows, the CLI {cli_rows}")
    per_date = statistics.mean(dag["per_date_seconds"])
    projected = per_date * days
    by_chunk_days = {int(chunk_days): seconds for chunk_days, seconds in dag["rebuild_seconds"].items()}
    rebuild = by_chunk_days[CHUNK_DAYS[0]]
    rows = [[f"rebuild DAG, chunk_days {chunk_days} ({-(-days // chunk_days)} chunks)", days, round(seconds, 2),
             "", round(seconds / cli_seconds, 2)] for chunk_days, seconds in by_chunk_days.items()]
    rows += [["bulk CLI (own process, DSNs)", days, round(cli_seconds, 2), "", 1.0],
             [f"per-date DAG (dag.test, {len(samples)} dates)", days, round(projected, 1), round(per_date, 3),
              round(projected / cli_seconds, 1)]]
    entry = {"days": days, "contexts": len(MACRO_CONTEXTS), "chunk_days": CHUNK_DAYS[0], "joint_rows": dag_rows,
             "rebuild_dag_seconds": round(rebuild, 2), "cli_seconds": round(cli_seconds, 2),
             "rebuild_dag_seconds_by_chunk_days": {str(k): round(v, 2) for k, v in by_chunk_days.items()},
             "warm_up_seconds": round(dag["warm_up_seconds"], 2),
             "per_date_dag_test_seconds": round(per_date, 3), "per_date_projected_seconds": round(projected, 1),
             "rebuild_over_cli": round(rebuild / cli_seconds, 2),
             "per_date_projected_over_rebuild": round(projected / rebuild, 1)}
    if scheduler_admin_dsn:
        vacuum_joint_embeddings(history)
        scheduled = measure_scheduler(scheduler_admin_dsn, history, first_date, last_date)
        entry["scheduler_seconds"] = scheduled
        rows.insert(len(by_chunk_days), [f"rebuild DAG, chunk_days {CHUNK_DAYS[0]}, scheduler (LocalExecutor, 4 slots; "
                                         "run start→end)", days, scheduled["start_to_end"], "",
                                         round(scheduled["start_to_end"] / cli_seconds, 2)])
    if airflow_seconds_per_date:
        backfill = airflow_seconds_per_date * days
        entry["airflow_backfill_projected_seconds"] = round(backfill, 1)
        entry["airflow_backfill_projected_over_rebuild"] = round(backfill / rebuild, 1)
        rows.append(["per-date backfill (scheduler, table 5)", days, round(backfill, 1),
                     round(airflow_seconds_per_date, 3), round(backfill / cli_seconds, 1)])
    return {
        "title": f"7. Rebuild DAG vs bulk CLI vs per-date runs: the x10 macro history ({days} days x "
                 f"{len(MACRO_CONTEXTS)} contexts)",
        "headers": ["how", "days", "wall s (per-date: projected)", "s per date", "wall / bulk CLI"],
        "rows": rows,
        "note": f"{first_date}..{last_date}; dag.test runs the mapped chunks one after another; Airflow start-up, "
                "`airflow db migrate`, DAG parsing and a first one-day dag.test (warm-up, "
                f"{entry['warm_up_seconds']} s) excluded from the DAG's time, process start-up included in the "
                "CLI's; per-date = mean of the sample x days; the targets use chunk_days 92 (the default); "
                f"DAG and CLI both left {dag_rows} joint rows; joint_embeddings vacuumed before each (untimed).",
        **entry,
    }


def measure_rebuild_dag(report, results: dict, history, scale, scheduler_admin_dsn: str | None = None) -> None:
    """7. for ``bench.run``: the table, the numbers and the ratios its targets check."""
    airflow = results.get("airflow")
    per_date = None
    if airflow:
        per_date = statistics.median(s["backfill_seconds"] for s in airflow["samples"][REGIME_MACRO_V0.dag_id])
        per_date /= scale.backfill_days
    entry = measure(history, last_date=LAST_DATE, sample_dates=scale.dates, airflow_seconds_per_date=per_date,
                    scheduler_admin_dsn=scheduler_admin_dsn)
    results["rebuild_dag"] = {key: value for key, value in entry.items() if key not in ("title", "headers", "rows")}
    results["ratios"]["rebuild_dag_over_cli"] = entry["rebuild_over_cli"]
    results["ratios"]["per_date_over_rebuild_dag"] = entry["per_date_projected_over_rebuild"]
    report.table(entry["title"], entry["headers"], entry["rows"], note=entry["note"])


if __name__ == "__main__":
    print(json.dumps(child(*json.loads(sys.argv[1]))))
