"""The benchmark: generate histories, measure, print tables, write ``bench/results/<timestamp>-<scale>.json``.

    .venv/bin/python -m bench.run --scale tiny|small|full

Measurements (see BENCHMARKS.md for what each one means and the targets):
  1. per-date task body: the extract, aggregate and write operators' ``execute`` for one date, all contexts,
     connections through ``PostgresHook`` as in a task, no scheduler; history x1 vs x10, macro and news;
  2. the upstream pattern on the same data and dates: ``DATE(ts) = d`` joined on ``id::text``, one query per
     context and date, rows decoded one by one, joint rows inserted one by one (commit each);
  3. the query plans of the package's reads on the x10 history;
  4. peak RSS of one day with many text vectors (child process, above its own baseline);
  5. Airflow end to end (``--airflow``): a backfill through the scheduler vs the same DAG shape doing nothing;
  6. bulk CLI (when ``plugins/joint_context/cli.py`` exists): a full rebuild vs reading the vector bytes.

The server is the one named by ``--admin-dsn`` / ``$JOINT_CONTEXT_TEST_DATABASE_URL``, or an embedded one.
The benchmark's databases are named ``<prefix>_<history>_{runtime,historical}`` and dropped at the end
unless ``--keep``; ``--reuse`` keeps databases that already hold the same generated history.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
LAST_DATE = date(2025, 12, 31)
MACRO_CONTEXTS = [
    {"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}, {"region": "JP", "country": "JP"},
]
NEWS_CONTEXTS = [{"region": "US", "language": "en"}, {"region": "EU", "language": "de"}, {"region": "JP"}]
REGIONS = ("US", "EU", "JP")
TARGETS = {
    "history_x10_time_ratio": ("<", 1.3),
    "upstream_over_package_x10_macro": (">=", 20.0),
    "rss_above_baseline_mb": ("<", 150.0),
    "airflow_backfill_over_floor": ("<=", 1.2),
    "cli_rebuild_over_raw_read": ("<=", 2.0),
}

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Scale:
    """History sizes and sample counts of one benchmark scale (x10 = ten times the x1 days)."""

    macro_days: int
    macro_per_day: int
    news_days: int
    news_per_day: int
    rss_vectors: int
    dates: int
    repeats: int
    backfill_days: int


SCALES = {
    "tiny": Scale(macro_days=7, macro_per_day=5, news_days=3, news_per_day=20, rss_vectors=2_000, dates=2,
                  repeats=1, backfill_days=3),
    "small": Scale(macro_days=60, macro_per_day=50, news_days=10, news_per_day=200, rss_vectors=20_000, dates=5,
                   repeats=3, backfill_days=7),
    "full": Scale(macro_days=365, macro_per_day=50, news_days=30, news_per_day=2_000, rss_vectors=200_000, dates=7,
                  repeats=3, backfill_days=31),
}


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def timing_summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": median_ms(ordered),
        "min_ms": round(ordered[0] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Tables as they are measured: printed at once, kept for the JSON and Markdown files."""

    def __init__(self) -> None:
        self.sections: list[dict] = []

    def table(self, title: str, headers: list[str], rows: list[list], note: str = "") -> None:
        self.sections.append({"title": title, "headers": headers, "rows": rows, "note": note})
        print(f"\n## {title}\n{format_table(headers, rows)}" + (f"\n{note}" if note else ""), flush=True)

    def markdown(self) -> str:
        parts = []
        for section in self.sections:
            parts.append(f"### {section['title']}\n\n{markdown_table(section['headers'], section['rows'])}")
            if section["note"]:
                parts.append(section["note"])
        return "\n\n".join(parts) + "\n"


# --- 1. per-date task body ------------------------------------------------------------------------------------


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


# --- 2. the upstream pattern ----------------------------------------------------------------------------------

UPSTREAM_REGIME_SQL = (
    "SELECT regime_record_id, regime_embedding FROM regimes WHERE region = %s AND as_of_date = %s"
    " ORDER BY created_at DESC LIMIT 1"
)
UPSTREAM_DELETE_SQL = (
    "DELETE FROM joint_embeddings WHERE joint_type = %s AND model_id = %s AND as_of_date = %s"
    " AND entity_scope = %s::jsonb"
)
UPSTREAM_INSERT_SQL = (
    "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
    " VALUES (%s, %s, %s::jsonb, %s, %s)"
)


def run_upstream_day(space, contexts: list[dict], as_of_date: date, history, connections=None) -> dict:
    """One date the previous scripts' way: per context a ``DATE()`` query, rows decoded one by one,
    the mean in numpy, the joint row deleted and inserted with a commit per statement.

    Two connections opened for the date, or ``connections`` (runtime, historical) held open by the caller."""
    import contextlib

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if connections is None:
            connections = [stack.enter_context(upstream_connection(dsn))
                           for dsn in (history.runtime_dsn, history.historical_dsn)]
        steps = upstream_steps(space, contexts, as_of_date, *connections)
    return {**steps, "total": time.perf_counter() - started}


def upstream_connection(dsn: str):
    import psycopg

    return psycopg.connect(dsn, options="-c TimeZone=UTC", autocommit=True)


def upstream_steps(space, contexts: list[dict], as_of_date: date, runtime_conn, historical_conn) -> dict:
    import numpy as np

    from bench.plans import UPSTREAM_TEXT_SQL, upstream_text_params
    from joint_context.config import parse_contexts
    from joint_context.spaces import canonical_json

    query_seconds = 0.0
    written = 0
    for context in parse_contexts(space, contexts):
        regime = runtime_conn.execute(UPSTREAM_REGIME_SQL, (context.region, as_of_date)).fetchone()
        query_started = time.perf_counter()
        rows = historical_conn.execute(
            UPSTREAM_TEXT_SQL[space.joint_type], upstream_text_params(space, context.filter_dict, as_of_date)
        ).fetchall()
        query_seconds += time.perf_counter() - query_started
        if regime is None or regime[1] is None or not rows:
            continue
        vectors = [np.frombuffer(vector, dtype="<f4") for _row_id, vector in rows if vector is not None]
        text_mean = np.mean(vectors, axis=0, dtype=np.float64)
        joint = ((0.5 * np.frombuffer(regime[1], dtype="<f4") + 0.5 * text_mean) / 1.0).astype("<f4")
        scope = canonical_json(space.entity_scope(context.region, context.filter_dict))
        historical_conn.execute(UPSTREAM_DELETE_SQL, (space.joint_type, "joint-upstream-bench", as_of_date, scope))
        historical_conn.execute(
            UPSTREAM_INSERT_SQL, (space.joint_type, as_of_date, scope, "joint-upstream-bench", joint.tobytes())
        )
        written += 1
    return {"query": query_seconds, "written": written}


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


def time_text_queries(space, contexts: list[dict], as_of_date: date, history) -> dict:
    """The read alone, package query vs upstream query, same connection, same date and filters."""
    import psycopg

    from bench.plans import UPSTREAM_TEXT_SQL, package_text_params, upstream_text_params
    from joint_context.config import parse_contexts
    from joint_context.store import read_sql

    timings = {"package": 0.0, "upstream": 0.0}
    with psycopg.connect(history.historical_dsn, options="-c TimeZone=UTC", autocommit=True) as conn:
        for context in parse_contexts(space, contexts):
            for name, query, params in (
                ("package", read_sql(space.text_sql), package_text_params(space, context.filter_dict, as_of_date)),
                ("upstream", UPSTREAM_TEXT_SQL[space.joint_type],
                 upstream_text_params(space, context.filter_dict, as_of_date)),
            ):
                started = time.perf_counter()
                conn.execute(query, params).fetchall()
                timings[name] += time.perf_counter() - started
    return timings


def measure_per_date(report: Report, results: dict, histories: dict, conn_ids: dict, scale: Scale) -> None:
    from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0

    dates = [LAST_DATE - timedelta(days=offset) for offset in range(scale.dates)]
    samples: dict[tuple, list[dict]] = {}
    workloads = [(REGIME_MACRO_V0, MACRO_CONTEXTS), (REGIME_CONTEXT_V0, NEWS_CONTEXTS)]
    for space, contexts in workloads:  # warm-up: first connection, imports, caches
        for label in histories:
            run_task_bodies(space, contexts, dates[0], conn_ids[label])
            run_upstream_day(space, contexts, dates[0], histories[label])
    open_connections = {label: (package_connections(history),
                                [upstream_connection(dsn) for dsn in (history.runtime_dsn, history.historical_dsn)])
                        for label, history in histories.items()}
    try:
        for space, contexts in workloads:  # warm-up of the open connections (their first plans, caches)
            for label, history in histories.items():
                package_conns, upstream_conns = open_connections[label]
                run_steps_on_open_connections(space, contexts, dates[0], *package_conns)
                run_upstream_day(space, contexts, dates[0], history, upstream_conns)
        for _round in range(scale.repeats):
            for space, contexts in workloads:
                for label, history in histories.items():
                    package_conns, upstream_conns = open_connections[label]
                    for as_of_date in dates:
                        samples.setdefault(("package", space.joint_type, label), []).append(
                            run_task_bodies(space, contexts, as_of_date, conn_ids[label]))
                        samples.setdefault(("upstream", space.joint_type, label), []).append(
                            run_upstream_day(space, contexts, as_of_date, history))
                        samples.setdefault(("queries", space.joint_type, label), []).append(
                            time_text_queries(space, contexts, as_of_date, history))
                        samples.setdefault(("package_open", space.joint_type, label), []).append(
                            run_steps_on_open_connections(space, contexts, as_of_date, *package_conns))
                        samples.setdefault(("upstream_open", space.joint_type, label), []).append(
                            run_upstream_day(space, contexts, as_of_date, history, upstream_conns))
    finally:
        for package_conns, upstream_conns in open_connections.values():
            for conn in [*package_conns, *upstream_conns]:
                conn.close()

    per_date = {}
    rows, open_rows = [], []
    for space, _contexts in workloads:
        for label, history in histories.items():
            package = samples[("package", space.joint_type, label)]
            upstream = samples[("upstream", space.joint_type, label)]
            queries = samples[("queries", space.joint_type, label)]
            entry = {
                "history_days": history.spec.macro_days if space is REGIME_MACRO_V0 else history.spec.news_days,
                "events_in_table": history.counts["macro_events" if space is REGIME_MACRO_V0 else "news_articles"],
                "text_vectors_per_date": statistics.median(s["text_vectors"] for s in package),
                "joint_rows_written_per_date": statistics.median(s["written"] for s in package),
                "upstream_rows_written_per_date": statistics.median(s["written"] for s in upstream),
                "package": {step: timing_summary([s[step] for s in package])
                            for step in ("extract", "aggregate", "write", "xcom", "total")},
                "upstream": {step: timing_summary([s[step] for s in upstream]) for step in ("query", "total")},
                "query_only": {name: timing_summary([s[name] for s in queries]) for name in ("package", "upstream")},
            }
            entry["upstream_over_package"] = round(
                entry["upstream"]["total"]["median_ms"] / entry["package"]["total"]["median_ms"], 2)
            entry["open_connections"] = {
                name: timing_summary([s["total"] for s in samples[(f"{name}_open", space.joint_type, label)]])
                for name in ("package", "upstream")}
            entry["open_connections"]["upstream_over_package"] = round(
                entry["open_connections"]["upstream"]["median_ms"]
                / entry["open_connections"]["package"]["median_ms"], 2)
            per_date[f"{space.joint_type}/{label}"] = entry
            open_rows.append([
                space.joint_type, label, entry["history_days"], entry["events_in_table"],
                entry["open_connections"]["package"]["median_ms"], entry["open_connections"]["upstream"]["median_ms"],
                entry["open_connections"]["upstream_over_package"],
            ])
            rows.append([
                space.joint_type, label, entry["history_days"], entry["events_in_table"],
                int(entry["text_vectors_per_date"]),
                entry["package"]["extract"]["median_ms"], entry["package"]["aggregate"]["median_ms"],
                entry["package"]["write"]["median_ms"], entry["package"]["total"]["median_ms"],
                entry["package"]["xcom"]["median_ms"],
                entry["upstream"]["total"]["median_ms"], entry["upstream_over_package"],
                entry["query_only"]["package"]["median_ms"], entry["query_only"]["upstream"]["median_ms"],
            ])
    results["per_date"] = per_date
    report.table(
        "1-2. Per-date task body (package) vs the upstream pattern, median ms per date, all contexts",
        ["space", "history", "days", "events", "texts/date", "extract", "aggregate", "write", "package total",
         "(xcom json)", "upstream total", "upstream/package", "read query: package", "read query: upstream"],
        rows,
        note=(f"{len(dates)} dates ({dates[-1]}..{dates[0]}) x {scale.repeats} rounds per cell, after one warm-up. "
              "package total = extract + aggregate + write execute() (connections through PostgresHook included); "
              "'(xcom json)' = the JSON round trip of the two hand-offs, not in the total; "
              "'read query' = the text query alone, summed over the date's contexts, fetchall, same connection."),
    )
    report.table(
        "1b. The same per date on connections already open, median ms per date, all contexts",
        ["space", "history", "days", "events", "package", "upstream", "upstream/package"],
        open_rows,
        note=("package = extract_day + aggregate_day + write_day, the functions the three operators call, on a "
              "runtime and a historical connection opened once (what a date costs the package beyond connecting "
              "and XCom: the bulk CLI's case, or a connection pooler's); upstream = the same previous-scripts "
              "pattern as above, on its two connections opened once."),
    )
    ratios = results.setdefault("ratios", {})
    for space, _contexts in workloads:
        x1, x10 = per_date[f"{space.joint_type}/x1"], per_date[f"{space.joint_type}/x10"]
        ratios[f"history_x10_time_ratio/{space.joint_type}"] = round(
            x10["package"]["total"]["median_ms"] / x1["package"]["total"]["median_ms"], 3)
    ratios["upstream_over_package_x10_macro"] = per_date["REGIME_MACRO_V0/x10"]["upstream_over_package"]
    ratios["upstream_over_package_x10_macro_open_connections"] = (
        per_date["REGIME_MACRO_V0/x10"]["open_connections"]["upstream_over_package"])


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


# --- 3. query plans -------------------------------------------------------------------------------------------


def measure_plans(report: Report, results: dict, history) -> None:
    import psycopg

    from bench.plans import (
        explain_package_text_query,
        explain_regime_query,
        explain_upstream_text_query,
        scans,
        sequential_scans,
    )
    from joint_context.config import parse_contexts
    from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0

    rows, plans = [], []
    with psycopg.connect(history.historical_dsn) as conn:
        for space, contexts in ((REGIME_MACRO_V0, MACRO_CONTEXTS + [{"region": "US"}]),
                                (REGIME_CONTEXT_V0, NEWS_CONTEXTS)):
            for context in parse_contexts(space, contexts):
                for query, explain in (("package", explain_package_text_query),
                                       ("upstream", explain_upstream_text_query)):
                    plan = explain(conn, space, context.filter_dict, LAST_DATE)
                    seq = sequential_scans(plan, ("macro_events", "news_articles"))
                    plans.append({"space": space.joint_type, "context": context.describe(), "query": query,
                                  "scans": [scan.describe() for scan in scans(plan)], "seq_scans_of_events": len(seq)})
                    rows.append([space.joint_type, context.describe(), query,
                                 "; ".join(scan.describe() for scan in scans(plan)), "yes" if seq else "no"])
    with psycopg.connect(history.runtime_dsn) as conn:
        plan = explain_regime_query(conn, list(REGIONS), LAST_DATE, LAST_DATE)
        plans.append({"space": "both", "context": "regimes", "query": "package",
                      "scans": [scan.describe() for scan in scans(plan)], "seq_scans_of_events": 0})
        rows.append(["both", f"regions {','.join(REGIONS)}", "package (regimes)",
                     "; ".join(scan.describe() for scan in scans(plan)), "n/a"])
    results["plans"] = plans
    results["ratios"]["package_seq_scans_of_event_tables"] = sum(
        plan["seq_scans_of_events"] for plan in plans if plan["query"] == "package")
    report.table("3. Query plans on the x10 history (EXPLAIN, values bound)",
                 ["space", "context", "query", "scans", "seq scan of events/articles"], rows)


def measure_server_execution(report: Report, results: dict, histories: dict, scale: Scale) -> None:
    """The read query's own server time, package vs upstream, per date summed over the contexts."""
    import psycopg

    from bench.plans import package_text_execution_ms, upstream_text_execution_ms
    from joint_context.config import parse_contexts
    from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0

    dates = [LAST_DATE - timedelta(days=offset) for offset in range(scale.dates)]
    rows, entries = [], {}
    for space, contexts in ((REGIME_MACRO_V0, MACRO_CONTEXTS), (REGIME_CONTEXT_V0, NEWS_CONTEXTS)):
        parsed = parse_contexts(space, contexts)
        for label, history in histories.items():
            per_date = {"package": [], "upstream": []}
            with psycopg.connect(history.historical_dsn, options="-c TimeZone=UTC") as conn:
                package_text_execution_ms(conn, space, parsed[0].filter_dict, dates[0])  # warm-up
                upstream_text_execution_ms(conn, space, parsed[0].filter_dict, dates[0])
                for _round in range(scale.repeats):
                    for as_of_date in dates:
                        per_date["package"].append(sum(
                            package_text_execution_ms(conn, space, c.filter_dict, as_of_date) for c in parsed))
                        per_date["upstream"].append(sum(
                            upstream_text_execution_ms(conn, space, c.filter_dict, as_of_date) for c in parsed))
            package_ms = round(statistics.median(per_date["package"]), 3)
            upstream_ms = round(statistics.median(per_date["upstream"]), 3)
            entries[f"{space.joint_type}/{label}"] = {"package_ms": package_ms, "upstream_ms": upstream_ms,
                                                      "ratio": round(upstream_ms / package_ms, 1)}
            rows.append([space.joint_type, label, len(parsed), package_ms, upstream_ms,
                         entries[f"{space.joint_type}/{label}"]["ratio"]])
    results["server_execution"] = entries
    results["ratios"]["upstream_over_package_query_x10_macro"] = entries["REGIME_MACRO_V0/x10"]["ratio"]
    report.table(
        "3b. The read query's server execution time (EXPLAIN ANALYZE), median ms per date, summed over contexts",
        ["space", "history", "contexts", "package query", "upstream query", "upstream/package"], rows,
        note="Server work only (no rows sent): the sargable day window vs DATE(\"timestamp\") = d.")


# --- 4. memory ------------------------------------------------------------------------------------------------


def measure_rss(report: Report, results: dict, history) -> None:
    rows = []
    entries = {}
    for mode in ("package", "upstream"):
        completed = subprocess.run(
            [sys.executable, "-m", "bench.rss", "--runtime-dsn", history.runtime_dsn,
             "--historical-dsn", history.historical_dsn, "--date", LAST_DATE.isoformat(), "--mode", mode],
            capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=child_env(), check=False,
        )
        if completed.returncode:
            raise RuntimeError(f"bench.rss --mode {mode} failed:\n{completed.stderr}")
        entry = json.loads(completed.stdout.strip().splitlines()[-1])
        entries[mode] = entry
        rows.append([mode, entry["text_vectors"], round(entry["baseline_rss_bytes"] / 2**20, 1),
                     round(entry["peak_rss_bytes"] / 2**20, 1), round(entry["above_baseline_bytes"] / 2**20, 1),
                     round(entry["seconds"], 2)])
    results["rss"] = entries
    results["ratios"]["rss_above_baseline_mb"] = round(entries["package"]["above_baseline_bytes"] / 2**20, 1)
    report.table("4. Peak RSS of one day's extract + aggregate (child process)",
                 ["mode", "text vectors", "baseline MiB", "peak MiB", "above baseline MiB", "seconds"], rows,
                 note="baseline: numpy, psycopg and the package imported, both connections open. "
                      "'upstream' = fetchall + list of arrays + np.mean, for scale (not a target).")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


# --- 5 and 6: optional, depend on other parts of the repo -----------------------------------------------------


def measure_airflow(report: Report, results: dict, admin_dsn: str, history, scale: Scale, rounds: int) -> None:
    from bench import airflow_e2e

    entry = airflow_e2e.measure(admin_dsn, history, days=scale.backfill_days, last_date=LAST_DATE,
                                contexts=MACRO_CONTEXTS, rounds=rounds)
    results["airflow"] = {key: value for key, value in entry.items() if key not in ("title", "headers", "rows")}
    results["ratios"]["airflow_backfill_over_floor"] = entry["ratio"]
    report.table(entry["title"], entry["headers"], entry["rows"], note=entry.get("note", ""))


def measure_cli(report: Report, results: dict, history, repeats: int, profile_prefix: Path | None) -> None:
    from bench import cli_rebuild

    entry = cli_rebuild.measure(history, last_date=LAST_DATE, repeats=repeats, profile_prefix=profile_prefix)
    results["cli"] = {key: value for key, value in entry.items() if key not in ("title", "headers", "rows")}
    results["ratios"]["cli_rebuild_over_raw_read"] = entry["ratio"]
    report.table(entry["title"], entry["headers"], entry["rows"], note=entry.get("note", ""))


# --- the run --------------------------------------------------------------------------------------------------


def machine_facts(admin_dsn: str) -> dict:
    import numpy
    import psycopg

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory_gib = round(int(meminfo.read_text().split()[1]) / 2**20, 1)
    with psycopg.connect(admin_dsn) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
    except Exception:  # noqa: BLE001 - informational only
        airflow_version = None
    return {
        "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "memory_gib": memory_gib,
        "python": platform.python_version(), "numpy": numpy.__version__, "psycopg": psycopg.__version__,
        "postgresql": server_version, "shared_buffers": shared_buffers, "airflow": airflow_version,
    }


def check_targets(report: Report, results: dict) -> None:
    ratios = results["ratios"]
    rows = []
    checks = [
        ("per-date x10 history / x1 (macro)", "history_x10_time_ratio/REGIME_MACRO_V0", "history_x10_time_ratio"),
        ("per-date x10 history / x1 (news)", "history_x10_time_ratio/REGIME_CONTEXT_V0", "history_x10_time_ratio"),
        ("upstream / package, x10 macro: per-date task body", "upstream_over_package_x10_macro",
         "upstream_over_package_x10_macro"),
        ("upstream / package, x10 macro: per date on open connections",
         "upstream_over_package_x10_macro_open_connections", "upstream_over_package_x10_macro"),
        ("upstream / package, x10 macro: read query (server)", "upstream_over_package_query_x10_macro",
         "upstream_over_package_x10_macro"),
        ("peak RSS above baseline, MiB", "rss_above_baseline_mb", "rss_above_baseline_mb"),
        ("Airflow backfill / empty-task floor", "airflow_backfill_over_floor", "airflow_backfill_over_floor"),
        ("bulk CLI rebuild / raw read", "cli_rebuild_over_raw_read", "cli_rebuild_over_raw_read"),
    ]
    verdicts = {}
    for title, key, target_key in checks:
        operator, bound = TARGETS[target_key]
        value = ratios.get(key)
        if value is None:
            verdict = "not measured"
        else:
            met = {"<": value < bound, "<=": value <= bound, ">=": value >= bound}[operator]
            verdict = "met" if met else "MISSED"
        verdicts[key] = verdict
        rows.append([title, "-" if value is None else value, f"{operator} {bound}", verdict])
    rows.append(["package reads: seq scans of events/articles", ratios.get("package_seq_scans_of_event_tables"),
                 "= 0", "met" if ratios.get("package_seq_scans_of_event_tables") == 0 else "MISSED"])
    results["verdicts"] = verdicts
    report.table("Targets", ["measure", "value", "target", "verdict"], rows,
                 note="Timings come from one shared machine; the verdicts are for reading, CI does not judge them.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--admin-dsn", default=os.environ.get("JOINT_CONTEXT_TEST_DATABASE_URL"),
                        help="superuser DSN (default $JOINT_CONTEXT_TEST_DATABASE_URL; none: an embedded server)")
    parser.add_argument("--db-prefix", default=None, help="database name prefix (default jc_bench_<scale>)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--reuse", action="store_true", help="reuse databases that hold the same history")
    parser.add_argument("--airflow", action="store_true", help="also run 5. (backfill through a real scheduler)")
    parser.add_argument("--profile", action="store_true",
                        help="write pyinstrument profiles next to the results: the x10 macro task bodies and "
                             "one bulk CLI rebuild per space")
    parser.add_argument("--airflow-rounds", type=int, default=1, help="backfill rounds per DAG in 5. (default 1)")
    parser.add_argument("--cli-repeats", type=int, default=3, help="rebuilds per space in 6. (default 3)")
    parser.add_argument("--skip-cli", action="store_true", help="skip 6. even when the CLI exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("joint_context").setLevel(logging.WARNING)
    logging.getLogger("airflow").setLevel(logging.WARNING)
    scale = SCALES[args.scale]
    prefix = args.db_prefix or f"jc_bench_{args.scale}"
    with tempfile.TemporaryDirectory(prefix="jc-bench-") as scratch:
        # the operators import Airflow: without a home of the caller's, a throw-away one (no ~/airflow)
        os.environ.setdefault("AIRFLOW_HOME", str(Path(scratch) / "airflow-home"))
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        server = None
        admin_dsn = args.admin_dsn
        if not admin_dsn:
            from devtools.localdb import start_embedded_server

            server = start_embedded_server(Path(scratch) / "pgdata", cleanup_mode="delete")
            admin_dsn = server.get_uri()
        try:
            return run(args, scale, prefix, admin_dsn)
        finally:
            if server is not None:
                server.cleanup()


def run(args, scale: Scale, prefix: str, admin_dsn: str) -> int:
    from bench.generate import HistorySpec, drop, generate

    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = Report()
    results: dict = {
        "scale": args.scale, "scale_parameters": asdict(scale), "started_utc": datetime.now(UTC).isoformat(),
        "machine": machine_facts(admin_dsn), "ratios": {},
    }
    specs = {
        "x1": HistorySpec(REGIONS, LAST_DATE, scale.macro_days, scale.macro_per_day, scale.news_days,
                          scale.news_per_day),
        "x10": HistorySpec(REGIONS, LAST_DATE, 10 * scale.macro_days, scale.macro_per_day, 10 * scale.news_days,
                           scale.news_per_day),
        "rss": HistorySpec(("US",), LAST_DATE, 0, 0, 1, scale.rss_vectors),
    }
    names = {label: f"{prefix}_{label}" for label in specs}
    histories = {}
    try:
        rows = []
        for label, spec in specs.items():
            histories[label] = generate(admin_dsn, names[label], spec, reuse=args.reuse)
            history = histories[label]
            rows.append([label, spec.macro_days, spec.macro_per_day, spec.news_days, spec.news_per_day,
                         history.counts["macro_events"], history.counts["news_articles"],
                         history.counts["text_embeddings"], "reused" if history.reused else round(history.seconds, 1)])
        results["histories"] = {label: {"spec": {**asdict(h.spec), "last_date": h.spec.last_date.isoformat()},
                                        "counts": h.counts, "generate_seconds": round(h.seconds, 2),
                                        "reused": h.reused} for label, h in histories.items()}
        report.table("Generated histories (384-dim float32 vectors, binary COPY, seed 20251231)",
                     ["history", "macro days", "macro/day", "news days", "news/day", "macro_events",
                      "news_articles", "text_embeddings", "generate s"], rows)

        conn_ids = {label: register_connections(label, histories[label]) for label in ("x1", "x10")}
        log.info("measure_per_date ...")
        measure_per_date(report, results, {label: histories[label] for label in ("x1", "x10")}, conn_ids, scale)
        log.info("measure_fixed_costs ...")
        measure_fixed_costs(report, results, histories["x10"], conn_ids["x10"], scale)
        if args.profile:
            results["profile"] = str(profile_task_bodies(args.results_dir, stamp, conn_ids["x10"], scale))
            print(f"profile: {results['profile']}")
        log.info("measure_plans ...")
        measure_plans(report, results, histories["x10"])
        log.info("measure_server_execution ...")
        measure_server_execution(report, results, {label: histories[label] for label in ("x1", "x10")}, scale)
        log.info("measure_rss ...")
        measure_rss(report, results, histories["rss"])
        if not args.skip_cli and importlib.util.find_spec("joint_context.cli"):
            log.info("measure_cli ...")
            measure_cli(report, results, histories["x10"], 1 if args.scale == "tiny" else args.cli_repeats,
                        args.results_dir / f"{stamp}-profile" if args.profile else None)
        if args.airflow:
            log.info("measure_airflow ...")
            measure_airflow(report, results, admin_dsn, histories["x1"], scale, args.airflow_rounds)
        check_targets(report, results)
    finally:
        if not args.keep:
            log.info("dropping the benchmark databases")
            for name in names.values():
                drop(admin_dsn, name)
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.results_dir / f"{stamp}-{args.scale}.json"
    json_path.write_text(json.dumps({**results, "tables": report.sections}, indent=2, default=str))
    markdown_path = json_path.with_suffix(".md")
    markdown_path.write_text(f"<!-- bench.run --scale {args.scale}, {results['started_utc']} -->\n\n"
                             + report.markdown())
    print(f"\nresults: {json_path}\nmarkdown: {markdown_path}\n({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
