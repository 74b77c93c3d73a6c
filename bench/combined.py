"""1d. The combined space's per-date task body (``CombineJointSpacesOperator.execute``), history x1 vs x10.

Its inputs are the macro and news spaces' stored rows, so each history gets one row per context and day of each
(x1: ``macro_days`` days, x10: ten times as many), ended by the dates measured; they are removed afterwards, with
the combined rows, so the later measurements see the tables as before.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

import numpy as np

from bench.report import Report, timing_summary
from bench.task_bodies import as_task_runner
from bench.workload import LAST_DATE, MACRO_CONTEXTS, NEWS_CONTEXTS, Scale

DIMENSION = 384
COMBINED_CONTEXTS = [{**macro, **news} for macro, news in zip(MACRO_CONTEXTS, NEWS_CONTEXTS, strict=True)]


def seed_branch_rows(historical_dsn: str, days: int, seed: int) -> int:
    """One macro and one news row per context and day, the ``days`` days up to LAST_DATE; returns the first
    ``joint_id`` not seeded before (what to delete afterwards)."""
    import psycopg

    from joint_context.combined_config import CombinedRunConfig
    from joint_context.combined_space import REGIME_COMBINED_V0
    from joint_context.spaces import canonical_json

    config = CombinedRunConfig.from_params(REGIME_COMBINED_V0, {"contexts": COMBINED_CONTEXTS})
    rng = np.random.default_rng(seed)
    with psycopg.connect(historical_dsn, autocommit=True) as conn:
        (first_id,) = conn.execute("SELECT coalesce(max(joint_id), 0) + 1 FROM joint_embeddings").fetchone()
        with conn.cursor() as cursor, cursor.copy(
                "COPY joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector) FROM STDIN") as copy:
            for offset in range(days):
                day = LAST_DATE - timedelta(days=offset)
                for scope in config.contexts:
                    for branch in REGIME_COMBINED_V0.branches:
                        vector = rng.normal(size=DIMENSION).astype("<f4").tobytes()
                        branch_scope = REGIME_COMBINED_V0.branch_scope(branch, scope.region, scope.filter_dict)
                        copy.write_row((branch.space.joint_type, day, canonical_json(branch_scope),
                                        config.source_model_id, vector))
        conn.execute("ANALYZE joint_embeddings")
    return first_id


def run_combine_task(as_of_date: date, historical_conn_id: str) -> float:
    """The combined task's ``execute`` for one date, as a task process runs it; seconds."""
    from joint_context.combine_operator import CombineJointSpacesOperator
    from joint_context.combined_space import REGIME_COMBINED_V0

    operator = CombineJointSpacesOperator(task_id="combine", space=REGIME_COMBINED_V0,
                                          as_of_date=as_of_date.isoformat(), historical_conn_id=historical_conn_id)
    context = {"params": {"contexts": COMBINED_CONTEXTS}, "dag_run": None}
    started = time.perf_counter()
    result = as_task_runner(operator, context)
    seconds = time.perf_counter() - started
    assert result["summaries"][0]["counts"]["written"] + result["summaries"][0]["counts"]["replaced"] == len(
        COMBINED_CONTEXTS), result
    return seconds


def measure_combined(report: Report, results: dict, histories: dict, conn_ids: dict, scale: Scale) -> None:
    import psycopg

    dates = [LAST_DATE - timedelta(days=offset) for offset in range(scale.dates)]
    days = {"x1": scale.macro_days, "x10": 10 * scale.macro_days}
    first_ids = {label: seed_branch_rows(history.historical_dsn, days[label], seed=len(label))
                 for label, history in histories.items()}
    samples: dict[str, list[float]] = {label: [] for label in histories}
    try:
        for label in histories:  # warm-up: first connection, imports, plans
            run_combine_task(dates[0], conn_ids[label][1])
        for _round in range(scale.repeats):
            for label in histories:
                samples[label] += [run_combine_task(as_of_date, conn_ids[label][1]) for as_of_date in dates]
    finally:
        for label, history in histories.items():
            with psycopg.connect(history.historical_dsn, autocommit=True) as conn:
                conn.execute("DELETE FROM joint_embeddings WHERE joint_id >= %s OR joint_type = 'REGIME_COMBINED_V0'",
                             (first_ids[label],))
    summaries = {label: timing_summary(values) for label, values in samples.items()}
    ratio = round(statistics.median(samples["x10"]) / statistics.median(samples["x1"]), 2)
    results["combined_per_date"] = {label: {"branch_rows": 2 * len(COMBINED_CONTEXTS) * days[label], **summary}
                                    for label, summary in summaries.items()}
    results["ratios"]["history_x10_time_ratio/REGIME_COMBINED_V0"] = ratio
    report.table(
        "1d. Combined space: per-date task body (CombineJointSpacesOperator.execute), history x1 vs x10",
        ["history", "branch rows", "median ms", "min ms", "max ms", "samples"],
        [[label, 2 * len(COMBINED_CONTEXTS) * days[label], summary["median_ms"], summary["min_ms"], summary["max_ms"],
          summary["n"]] for label, summary in summaries.items()],
        note=f"x10 / x1 median: {ratio} (target < 1.3). {len(COMBINED_CONTEXTS)} contexts, dimension {DIMENSION}.",
    )


def main(argv: list[str] | None = None) -> int:
    """Measurement 1d alone, on empty databases of its own (it seeds its inputs): ``--scale full`` = 365 vs 3,650
    days of stored rows in about a minute, where ``bench.run --scale full`` generates the text histories too."""
    import argparse
    import logging
    import os
    import tempfile
    import uuid
    from types import SimpleNamespace

    from bench.task_bodies import register_connections
    from bench.workload import SCALES
    from devtools import localdb

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--admin-dsn", default=os.environ.get("JOINT_CONTEXT_TEST_DATABASE_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    logging.getLogger("joint_context").setLevel(logging.WARNING)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="jc-bench-combined-"))
    suffix = uuid.uuid4().hex[:8]
    names = {label: f"jc_bench_combined_{label}_{suffix}" for label in ("x1", "x10")}
    histories = {label: SimpleNamespace(runtime_dsn=localdb.create_database(args.admin_dsn, f"{name}_rt",
                                                                            "runtime_db.sql"),
                                        historical_dsn=localdb.create_database(args.admin_dsn, name,
                                                                               "historical_db.sql"))
                 for label, name in names.items()}
    try:
        conn_ids = {label: register_connections(f"combined_{label}", history) for label, history in histories.items()}
        report, results = Report(), {"ratios": {}}
        measure_combined(report, results, histories, conn_ids, SCALES[args.scale])  # prints its table
    finally:
        for name in names.values():
            localdb.drop_database(args.admin_dsn, name)
            localdb.drop_database(args.admin_dsn, f"{name}_rt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
