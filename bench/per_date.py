"""1-2. The per-date task body (package) vs the upstream pattern, history x1 vs x10, macro and news; 1b. the same on
connections already open; and the read query alone, package vs upstream."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

from bench.report import Report, timing_summary
from bench.task_bodies import package_connections, run_steps_on_open_connections, run_task_bodies
from bench.upstream import run_upstream_day, upstream_connection
from bench.workload import LAST_DATE, MACRO_CONTEXTS, NEWS_CONTEXTS, Scale


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
