"""6. The bulk CLI: a full rebuild of a history vs the time to just read the bytes it needs.

The rebuild is ``python -m joint_context backfill`` over every day of the history, as a user runs it (a
process of its own), twice over the same databases and range: with libpq DSNs (``JOINT_CONTEXT_*_DSN``; Airflow
is never imported), the measurement the target ratio uses, and through Airflow connections (``AIRFLOW_CONN_*``).
The raw read is ``COPY (SELECT vector ...) TO STDOUT`` of exactly the vectors that rebuild needs (each context's
text vectors and the regimes), on one connection, bytes discarded. A one-day run of the same command gives the
start-up cost.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from bench.workload import LAST_DATE, MACRO_CONTEXTS, NEWS_CONTEXTS
from devtools.localdb import airflow_connection_json
from devtools.paths import REPO_ROOT
from joint_context.config import parse_contexts
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, JointSpace
from joint_context.store import read_sql, utc_day_start

CONNECTION_MODES = ("dsn", "conn_ids")  # how the CLI reaches the databases: libpq DSNs, or Airflow connections
CONNECTION_VARIABLES = ("AIRFLOW_CONN_RUNTIME_DB", "AIRFLOW_CONN_HISTORICAL_DB", "JOINT_CONTEXT_RUNTIME_DSN",
                        "JOINT_CONTEXT_HISTORICAL_DSN")


def cli_env(history, mode: str) -> dict[str, str]:
    """The CLI's environment: the databases as DSNs (``mode="dsn"``) or as Airflow connections, never both."""
    env = {key: value for key, value in os.environ.items() if key not in CONNECTION_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    if mode == "dsn":
        env["JOINT_CONTEXT_RUNTIME_DSN"] = history.runtime_dsn
        env["JOINT_CONTEXT_HISTORICAL_DSN"] = history.historical_dsn
    else:
        env["AIRFLOW_CONN_RUNTIME_DB"] = airflow_connection_json(history.runtime_dsn)
        env["AIRFLOW_CONN_HISTORICAL_DB"] = airflow_connection_json(history.historical_dsn)
    return env


def run_backfill(
    history, space: JointSpace, contexts: list[dict], first_date: date, last_date: date, *, mode: str = "dsn",
    profile_path: Path | None = None,
) -> float:
    """Wall seconds of ``python -m joint_context backfill`` over the range; raises if it fails.
    With ``profile_path``, the command runs under pyinstrument, which writes its profile there as text."""
    env = cli_env(history, mode)
    profiler = ([] if profile_path is None else
                ["-m", "pyinstrument", "--interval", "0.0005", "--outfile", str(profile_path)])
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *profiler, "-m", "joint_context", "backfill", "--space", space.joint_type,
         "--conf", json.dumps({"contexts": contexts}),
         "--date-range", first_date.isoformat(), last_date.isoformat(), "--no-progress"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"backfill ({mode}) exited {completed.returncode}:\n{completed.stdout[-2000:]}\n"
                           f"{completed.stderr[-2000:]}")
    return seconds


def raw_read(history, space: JointSpace, contexts: list[dict], first_date: date, last_date: date) -> tuple[float, int]:
    """Seconds and bytes of COPY-ing out the vectors a rebuild of the range needs (text + regimes)."""
    window = {"window_start": utc_day_start(first_date), "window_end": utc_day_start(last_date + timedelta(days=1)),
              "source_type": space.default_source_type, "text_model_id": space.default_text_model_id}
    parsed = parse_contexts(space, contexts)
    received = 0
    started = time.perf_counter()
    with psycopg.connect(history.historical_dsn) as conn:
        for filters in dict.fromkeys(context.filters for context in parsed):
            params = {**window, **{name: dict(filters).get(name) for name in space.filter_names}}
            received += copy_out(conn, "vector", read_sql(space.text_sql), params)
    with psycopg.connect(history.runtime_dsn) as conn:
        regions = sorted({context.region for context in parsed})
        received += copy_out(conn, "regime_embedding", read_sql("select_regimes.sql"),
                             {"regions": regions, "first_date": first_date, "last_date": last_date})
    return time.perf_counter() - started, received


def copy_out(conn, column: str, query: str, params: dict) -> int:
    """Bytes of ``COPY (SELECT <column> FROM (<query>)) TO STDOUT (FORMAT BINARY)``, received and discarded."""
    bound = psycopg.ClientCursor(conn).mogrify(query, params)  # COPY takes no parameters: bind client-side
    statement = sql.SQL("COPY (SELECT {} FROM ({}\n) AS needed) TO STDOUT (FORMAT BINARY)").format(
        sql.Identifier(column), sql.SQL(bound))
    received = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            received += len(block)
    return received


def vacuum_joint_embeddings(history) -> None:
    """Clear the dead rows earlier rebuilds left, as autovacuum would between them (a server may run without it:
    this machine's does), so that every rebuild starts from the same table and is not slowed by its predecessors'."""
    with psycopg.connect(history.historical_dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) joint_embeddings")


def measure(history, *, last_date: date, contexts: dict[str, list[dict]] | None = None, repeats: int = 3,
            profile_prefix: Path | None = None) -> dict:
    """The rebuilds and raw reads of both spaces, as a table. With ``profile_prefix``, one more rebuild per space
    (DSN mode, untimed) runs under pyinstrument: ``<profile_prefix>-cli-<space>.txt``."""
    contexts = contexts or {REGIME_MACRO_V0.joint_type: MACRO_CONTEXTS, REGIME_CONTEXT_V0.joint_type: NEWS_CONTEXTS}
    rows, entries = [], {}
    for space, days in ((REGIME_MACRO_V0, history.spec.macro_days), (REGIME_CONTEXT_V0, history.spec.news_days)):
        space_contexts = contexts[space.joint_type]
        first_date = last_date - timedelta(days=days - 1)
        startups = {mode: run_backfill(history, space, space_contexts, last_date, last_date, mode=mode)
                    for mode in CONNECTION_MODES}
        rebuilds: dict[str, list[float]] = {mode: [] for mode in CONNECTION_MODES}
        reads = []
        for _round in range(repeats):
            reads.append(raw_read(history, space, space_contexts, first_date, last_date))
            for mode in CONNECTION_MODES:
                vacuum_joint_embeddings(history)
                rebuilds[mode].append(run_backfill(history, space, space_contexts, first_date, last_date, mode=mode))
        if profile_prefix is not None:
            vacuum_joint_embeddings(history)
            run_backfill(history, space, space_contexts, first_date, last_date,
                         profile_path=profile_prefix.with_name(f"{profile_prefix.name}-cli-{space.joint_type}.txt"))
        rebuild = {mode: statistics.median(seconds) for mode, seconds in rebuilds.items()}
        read_seconds = statistics.median(seconds for seconds, _bytes in reads)
        read_bytes = reads[0][1]
        entry = {
            "days": days, "contexts": len(space_contexts),
            "rebuild_seconds": round(rebuild["dsn"], 2),
            "rebuild_conn_ids_seconds": round(rebuild["conn_ids"], 2),
            "one_day_run_seconds": round(startups["dsn"], 2),
            "one_day_run_conn_ids_seconds": round(startups["conn_ids"], 2),
            "raw_read_seconds": round(read_seconds, 2), "raw_read_mib": round(read_bytes / 2**20, 1),
            "ratio": round(rebuild["dsn"] / read_seconds, 2),
            "ratio_conn_ids": round(rebuild["conn_ids"] / read_seconds, 2),
            "ratio_without_startup": round(max(rebuild["dsn"] - startups["dsn"], 0.0) / read_seconds, 2),
        }
        entries[space.joint_type] = entry
        rows.append([space.joint_type, days, len(space_contexts), entry["rebuild_seconds"],
                     entry["rebuild_conn_ids_seconds"], entry["one_day_run_seconds"],
                     entry["one_day_run_conn_ids_seconds"], entry["raw_read_seconds"], entry["raw_read_mib"],
                     entry["ratio"], entry["ratio_conn_ids"], entry["ratio_without_startup"]])
    return {
        "title": "6. Bulk CLI: full rebuild of the x10 history vs COPY of the bytes it needs",
        "headers": ["space", "days", "contexts", "rebuild s (DSN)", "rebuild s (conn ids)",
                    "1-day run s (DSN, start-up)", "1-day run s (conn ids)", "raw COPY read s", "raw MiB",
                    "rebuild/read (DSN)", "rebuild/read (conn ids)", "(rebuild - start-up)/read (DSN)"],
        "rows": rows,
        "note": "rebuild = `python -m joint_context backfill --date-range <whole history>` (its own process), over "
                "the same databases and range with libpq DSNs (JOINT_CONTEXT_*_DSN: Airflow is not imported; the "
                "target ratio) and with Airflow connections (AIRFLOW_CONN_*); "
                "raw read = COPY (SELECT vector ...) TO STDOUT (FORMAT BINARY) of the same rows; "
                f"medians of {repeats}; joint_embeddings vacuumed before each rebuild (untimed).",
        "spaces": entries,
        "ratio": max(entry["ratio"] for entry in entries.values()),
        "ratio_conn_ids": max(entry["ratio_conn_ids"] for entry in entries.values()),
    }


def measure_cli(report, results: dict, history, repeats: int, profile_prefix: Path | None) -> None:
    """6. for ``bench.run``: the table, the numbers and the ratio its target checks."""
    entry = measure(history, last_date=LAST_DATE, repeats=repeats, profile_prefix=profile_prefix)
    results["cli"] = {key: value for key, value in entry.items() if key not in ("title", "headers", "rows")}
    results["ratios"]["cli_rebuild_over_raw_read"] = entry["ratio"]
    report.table(entry["title"], entry["headers"], entry["rows"], note=entry.get("note", ""))
