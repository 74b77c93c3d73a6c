"""5. Airflow end to end: a backfill through a real scheduler vs the same DAG shape whose tasks do nothing.

One stack (``devtools.airflow.stack``: api-server, scheduler, dag-processor, LocalExecutor, PostgreSQL
metadata database) parses ``bench/airflow_dags``: the production macro DAG and its floor twin. Both are
unpaused (each then has its one scheduled run of the latest day; the floor's is let finish, the real one's
sensor waits in reschedule mode holding no slot), then each is backfilled over the same days with the same
``max_active_runs``, alternating floor / package per round. Durations come from the metadata database: the
backfill's ``created_at`` to ``completed_at``, and the first run's start to the last run's end.
"""

from __future__ import annotations

import statistics
import tempfile
from datetime import date, timedelta
from pathlib import Path

import psycopg

from bench.workload import LAST_DATE, MACRO_CONTEXTS
from devtools.airflow.stack import AirflowStack
from devtools.localdb import airflow_connection_json
from devtools.paths import REPO_ROOT

DAGS_FOLDER = REPO_ROOT / "bench" / "airflow_dags"
PACKAGE_DAG_ID = "joint_regime_macro_context"
FLOOR_DAG_ID = "joint_regime_macro_context_floor"


def backfill_seconds(stack: AirflowStack, backfill_id: int) -> dict:
    (row,) = stack.query(
        "SELECT extract(epoch FROM b.completed_at - b.created_at) AS backfill_seconds,"
        " extract(epoch FROM max(dr.end_date) - min(dr.start_date)) AS runs_seconds,"
        " count(*) AS runs, count(*) FILTER (WHERE dr.state = 'success') AS succeeded"
        " FROM backfill b JOIN backfill_dag_run bdr ON bdr.backfill_id = b.id"
        " JOIN dag_run dr ON dr.id = bdr.dag_run_id WHERE b.id = %(id)s GROUP BY b.id",
        {"id": backfill_id},
    )
    (tasks,) = stack.query(
        "SELECT count(*) AS task_runs, extract(epoch FROM sum(ti.end_date - ti.start_date)) AS task_seconds"
        " FROM task_instance ti JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id"
        " JOIN backfill_dag_run bdr ON bdr.dag_run_id = dr.id WHERE bdr.backfill_id = %(id)s",
        {"id": backfill_id},
    )
    return {key: float(value) if value is not None else None for key, value in {**row, **tasks}.items()}


def measure(admin_dsn: str, history, *, days: int, last_date: date, contexts: list[dict], rounds: int = 1,
            max_active_runs: int = 4, timeout: float = 1200.0) -> dict:
    """Backfill ``days`` days ending ``last_date`` through both DAGs; returns the table and the ratio."""
    first_date = last_date - timedelta(days=days - 1)
    samples: dict[str, list[dict]] = {PACKAGE_DAG_ID: [], FLOOR_DAG_ID: []}
    extra_env = {
        "AIRFLOW_CONN_RUNTIME_DB": airflow_connection_json(history.runtime_dsn),
        "AIRFLOW_CONN_HISTORICAL_DB": airflow_connection_json(history.historical_dsn),
    }
    with tempfile.TemporaryDirectory(prefix="jc-bench-airflow-") as work_dir, AirflowStack(
        admin_dsn=admin_dsn, work_dir=Path(work_dir), dags_folder=DAGS_FOLDER, extra_env=extra_env,
    ) as stack:
        stack.wait_for_dags([PACKAGE_DAG_ID, FLOOR_DAG_ID])
        for dag_id in (FLOOR_DAG_ID, PACKAGE_DAG_ID):
            stack.unpause(dag_id)
        stack.wait_for_runs(FLOOR_DAG_ID, lambda runs: bool(runs) and all(r.state == "success" for r in runs),
                            what="the floor DAG's scheduled run to finish", timeout=300)
        for round_number in range(rounds):
            for dag_id in (FLOOR_DAG_ID, PACKAGE_DAG_ID):
                backfill_id = stack.backfill(
                    dag_id, first_date, last_date, max_active_runs=max_active_runs,
                    conf={"contexts": contexts} if dag_id == PACKAGE_DAG_ID else None,
                    reprocess_behavior="completed" if round_number else None,
                )
                stack.wait_for_backfill(backfill_id, timeout=timeout)
                sample = backfill_seconds(stack, backfill_id)
                if sample["runs"] != days or sample["succeeded"] != days:
                    raise RuntimeError(f"{dag_id} backfill {backfill_id}: {sample}\n{stack.log_tails()}")
                samples[dag_id].append(sample)
    with psycopg.connect(history.historical_dsn) as conn:
        (written,) = conn.execute(
            "SELECT count(*) FROM joint_embeddings WHERE joint_type = 'REGIME_MACRO_V0'"
            " AND model_id = 'joint-regime-core-v1' AND as_of_date BETWEEN %s AND %s",
            (first_date, last_date),
        ).fetchone()

    def median(dag_id: str, key: str) -> float:
        return round(statistics.median(sample[key] for sample in samples[dag_id]), 1)

    rows = []
    for dag_id in (FLOOR_DAG_ID, PACKAGE_DAG_ID):
        rows.append([dag_id, days, int(samples[dag_id][0]["task_runs"]), median(dag_id, "backfill_seconds"),
                     median(dag_id, "runs_seconds"), median(dag_id, "task_seconds")])
    ratio = round(median(PACKAGE_DAG_ID, "backfill_seconds") / median(FLOOR_DAG_ID, "backfill_seconds"), 3)
    runs_ratio = round(median(PACKAGE_DAG_ID, "runs_seconds") / median(FLOOR_DAG_ID, "runs_seconds"), 3)
    rows.append(["package / floor", "", "", ratio, runs_ratio,
                 round(median(PACKAGE_DAG_ID, "task_seconds") / median(FLOOR_DAG_ID, "task_seconds"), 3)])
    return {
        "title": f"5. Airflow end to end: backfill of {days} days through the scheduler vs the empty-task floor",
        "headers": ["DAG", "days", "task runs", "backfill created→completed s", "first run start→last run end s",
                    "sum of task durations s"],
        "rows": rows,
        "note": f"LocalExecutor, parallelism 4, backfill max_active_runs {max_active_runs}, {rounds} round(s), "
                f"{first_date}..{last_date}; the package's backfill wrote {written} joint rows "
                f"({len(contexts)} contexts x {days} days expected).",
        "samples": samples,
        "joint_rows_written": written,
        "ratio": ratio,
        "runs_ratio": runs_ratio,
    }


def measure_airflow(report, results: dict, admin_dsn: str, history, scale, rounds: int) -> None:
    """5. for ``bench.run``: the table, the numbers and the ratio its target checks."""
    entry = measure(admin_dsn, history, days=scale.backfill_days, last_date=LAST_DATE, contexts=MACRO_CONTEXTS,
                    rounds=rounds)
    results["airflow"] = {key: value for key, value in entry.items() if key not in ("title", "headers", "rows")}
    results["ratios"]["airflow_backfill_over_floor"] = entry["ratio"]
    report.table(entry["title"], entry["headers"], entry["rows"], note=entry.get("note", ""))
