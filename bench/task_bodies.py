"""The package's side of a date: the three operators' ``execute`` as a task runs them, or the functions they call
on connections already open; and a profile of the former."""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

from bench.workload import LAST_DATE, MACRO_CONTEXTS, Scale


def conn_env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def register_connections(label: str, history) -> tuple[str, str]:
    """Airflow connections (``AIRFLOW_CONN_*``) for one generated history; returns their ids."""
    from devtools.localdb import airflow_connection_json

    runtime_id, historical_id = f"bench_{label}_runtime", f"bench_{label}_historical"
    os.environ[conn_env_name(runtime_id)] = airflow_connection_json(history.runtime_dsn)
    os.environ[conn_env_name(historical_id)] = airflow_connection_json(history.historical_dsn)
    return runtime_id, historical_id


def as_task_runner(operator, context: dict):
    """``operator.execute(context)`` called the way Airflow's task runner calls it (its safeguard sentinel)."""
    try:
        from airflow.sdk.bases.operator import ExecutorSafeguard
    except ImportError:  # Airflow 2: no safeguard
        return operator.execute(context)
    return operator.execute(context, **{f"{type(operator).__name__}__sentinel": ExecutorSafeguard.sentinel_value})


def run_task_bodies(space, contexts: list[dict], as_of_date: date, conn_ids: tuple[str, str]) -> dict:
    """The three operators' ``execute`` for one date, as the task processes run them; seconds per step.

    The operators are built first (in Airflow that happens when the DAG file is parsed), and the XCom hand-off
    (a JSON round trip of what ``extract`` and ``aggregate`` return) is timed on its own.
    """
    from joint_context.config import default_params
    from joint_context.operators import (
        AggregateJointOperator,
        ExtractJointInputsOperator,
        WriteJointEmbeddingsOperator,
    )

    runtime_id, historical_id = conn_ids
    context = {"params": {**default_params(space), "contexts": contexts}, "dag_run": None}
    extract = ExtractJointInputsOperator(
        task_id="extract", space=space, as_of_date=as_of_date.isoformat(),
        runtime_conn_id=runtime_id, historical_conn_id=historical_id,
    )
    aggregate = AggregateJointOperator(task_id="aggregate", space=space, extracted=None)
    write = WriteJointEmbeddingsOperator(task_id="write", space=space, aggregated=None,
                                         historical_conn_id=historical_id)
    started = time.perf_counter()
    extracted = as_task_runner(extract, context)
    extracted_at = time.perf_counter()
    extracted = json.loads(json.dumps(extracted))  # the XCom round trip
    xcom_seconds = time.perf_counter() - extracted_at
    aggregate.extracted = extracted  # what template rendering does before execute (not timed)
    aggregate_started = time.perf_counter()
    aggregated = as_task_runner(aggregate, context)
    aggregated_at = time.perf_counter()
    aggregated = json.loads(json.dumps(aggregated))
    xcom_seconds += time.perf_counter() - aggregated_at
    write.aggregated = aggregated
    write_started = time.perf_counter()
    written = as_task_runner(write, context)
    finished = time.perf_counter()
    return {
        "extract": extracted_at - started, "aggregate": aggregated_at - aggregate_started,
        "write": finished - write_started, "xcom": xcom_seconds,
        "total": (extracted_at - started) + (aggregated_at - aggregate_started) + (finished - write_started),
        "written": written["counts"]["written"] + written["counts"]["replaced"],
        "text_vectors": sum(item["text_vector_count"] for item in written["contexts"]),
    }

def run_steps_on_open_connections(space, contexts: list[dict], as_of_date: date, runtime_conn,
                                  historical_conn) -> dict:
    """The package's own work for one date, connections already open: the functions the three operators
    call (extract_day, aggregate_day, write_day), without connecting, XCom or operator machinery."""
    from joint_context import pipeline
    from joint_context.config import RunConfig, default_params

    started = time.perf_counter()
    config = RunConfig.from_params(space, {**default_params(space), "contexts": contexts}, ["contexts"])
    extracted = pipeline.extract_day(runtime_conn, historical_conn, config, as_of_date)
    results = pipeline.aggregate_day(extracted, config)
    outcomes = pipeline.write_day(historical_conn, config, as_of_date, results)
    return {"total": time.perf_counter() - started,
            "written": sum(outcome.action in ("written", "replaced") for outcome in outcomes)}


def package_connections(history):
    """Two connections set up as the operators set theirs up (statement timeout), for the open-connection runs."""
    import psycopg

    from joint_context.store import set_statement_timeout

    connections = [psycopg.connect(dsn) for dsn in (history.runtime_dsn, history.historical_dsn)]
    for conn in connections:
        set_statement_timeout(conn, timedelta(minutes=10))  # the DAG factory's default
    return connections


def profile_task_bodies(results_dir: Path, stamp: str, conn_ids: tuple[str, str], scale: Scale) -> Path:
    """A pyinstrument profile of the macro per-date task bodies on the x10 history (text file)."""
    from pyinstrument import Profiler

    from joint_context.spaces import REGIME_MACRO_V0

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for offset in range(max(20, 3 * scale.dates)):
        run_task_bodies(REGIME_MACRO_V0, MACRO_CONTEXTS, LAST_DATE - timedelta(days=offset % scale.dates), conn_ids)
    profiler.stop()
    path = results_dir / f"{stamp}-profile-macro-x10.txt"
    results_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.output_text(unicode=False, color=False))
    return path
