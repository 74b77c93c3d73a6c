"""The benchmark: generate histories, measure, print tables, write ``bench/results/<timestamp>-<scale>.json``.

    .venv/bin/python -m bench.run --scale tiny|small|full [--record]

Measurements (see BENCHMARKS.md for what each one means and the targets), one module each:
  1. per-date task body (``bench.per_date``, ``bench.task_bodies``): the extract, aggregate and write operators'
     ``execute`` for one date, all contexts, connections through ``PostgresHook`` as in a task, no scheduler;
     history x1 vs x10, macro and news; 1c. the fixed costs of a task (``bench.fixed_costs``); 1d. the combined
     space's task body on x1 vs x10 histories of stored macro and news rows (``bench.combined``);
  2. the upstream pattern on the same data and dates (``bench.upstream``): ``DATE(ts) = d`` joined on ``id::text``,
     one query per context and date, rows decoded one by one, joint rows inserted one by one (commit each);
  3. the query plans of the package's reads on the x10 history (``bench.plans``);
  4. peak RSS of one day with many text vectors (``bench.memory``: child process, above its own baseline);
  5. Airflow end to end (``--airflow``, ``bench.airflow_e2e``): a backfill through the scheduler vs the same DAG
     shape doing nothing;
  6. bulk CLI (``bench.cli_rebuild``, when ``plugins/joint_context/cli.py`` exists): a full rebuild vs reading the
     vector bytes;
  7. the rebuild DAG (``bench.rebuild_dag``, unless ``--skip-rebuild-dag``): the x10 macro history through
     ``dag.test`` vs the bulk CLI vs per-date runs projected to the range.
  8. analog-day search (``bench.search``): the upstream pattern, numpy, pgvector exact and HNSW over one space's
     years x regions of joint vectors (on an embedded server of its own when this one has no pgvector).
The tables, targets and files are ``bench.report``'s. Every run writes ``bench/results/<stamp>-<scale>.json`` and
``.md`` (git-ignored); ``--record`` also writes the run's report to ``bench/reports/<stamp>-<scale>.md``, a file
of its own that is never overwritten or edited afterwards (BENCHMARKS.md keeps the method and the targets).

The server is the one named by ``--admin-dsn`` / ``$JOINT_CONTEXT_TEST_DATABASE_URL``, or an embedded one.
The benchmark's databases are named ``<prefix>_<history>_{runtime,historical}`` and dropped at the end
unless ``--keep``; ``--reuse`` keeps databases that already hold the same generated history.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.combined import measure_combined
from bench.fixed_costs import measure_fixed_costs
from bench.memory import measure_rss
from bench.per_date import measure_per_date
from bench.plans import measure_plans, measure_server_execution
from bench.report import Report, check_targets, machine_facts, record, record_path, write_results
from bench.task_bodies import profile_task_bodies, register_connections
from bench.workload import LAST_DATE, REGIONS, SCALES, Scale
from devtools.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "bench" / "results"
REPORTS_DIR = REPO_ROOT / "bench" / "reports"

log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--admin-dsn", default=os.environ.get("JOINT_CONTEXT_TEST_DATABASE_URL"),
                        help="superuser DSN (default $JOINT_CONTEXT_TEST_DATABASE_URL; none: an embedded server)")
    parser.add_argument("--db-prefix", default=None, help="database name prefix (default jc_bench_<scale>)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--record", action="store_true",
                        help="also write the run's report to bench/reports/<stamp>-<scale>.md (never overwritten)")
    parser.add_argument("--reports-dir", type=Path, default=REPORTS_DIR, help=argparse.SUPPRESS)  # tests
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--reuse", action="store_true", help="reuse databases that hold the same history")
    parser.add_argument("--airflow", action="store_true", help="also run 5. (backfill through a real scheduler)")
    parser.add_argument("--profile", action="store_true",
                        help="write pyinstrument profiles next to the results: the x10 macro task bodies and "
                             "one bulk CLI rebuild per space")
    parser.add_argument("--airflow-rounds", type=int, default=1, help="backfill rounds per DAG in 5. (default 1)")
    parser.add_argument("--cli-repeats", type=int, default=3, help="rebuilds per space in 6. (default 3)")
    parser.add_argument("--skip-cli", action="store_true", help="skip 6. even when the CLI exists")
    parser.add_argument("--skip-rebuild-dag", action="store_true", help="skip 7.")
    parser.add_argument("--skip-search", action="store_true", help="skip 8.")
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.record_path = None
    if args.record:
        try:  # before an hour of measuring, not after
            args.record_path = record_path(args.reports_dir, args.stamp, args.scale)
        except FileExistsError as error:
            parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    from bench.generate import HistorySpec, drop

    started = time.perf_counter()
    stamp = args.stamp
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
    try:
        histories = generate_histories(report, results, admin_dsn, specs, names, args.reuse)
        conn_ids = {label: register_connections(label, histories[label]) for label in ("x1", "x10")}
        log.info("measure_per_date ...")
        measure_per_date(report, results, {label: histories[label] for label in ("x1", "x10")}, conn_ids, scale)
        log.info("measure_combined ...")
        measure_combined(report, results, {label: histories[label] for label in ("x1", "x10")}, conn_ids, scale)
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
            from bench.cli_rebuild import measure_cli

            log.info("measure_cli ...")
            measure_cli(report, results, histories["x10"], 1 if args.scale == "tiny" else args.cli_repeats,
                        args.results_dir / f"{stamp}-profile" if args.profile else None)
        if not args.skip_search:
            from bench.search import measure_search

            log.info("measure_search ...")
            measure_search(report, results, admin_dsn, args.scale, LAST_DATE, prefix)
        if args.airflow:
            from bench.airflow_e2e import measure_airflow

            log.info("measure_airflow ...")
            measure_airflow(report, results, admin_dsn, histories["x1"], scale, args.airflow_rounds)
        if not args.skip_rebuild_dag:
            from bench.rebuild_dag import measure_rebuild_dag

            log.info("measure_rebuild_dag ...")
            measure_rebuild_dag(report, results, histories["x10"], scale, admin_dsn if args.airflow else None)
        check_targets(report, results)
    finally:
        if not args.keep:
            log.info("dropping the benchmark databases")
            for name in names.values():
                drop(admin_dsn, name)
    results["seconds"] = round(time.perf_counter() - started, 1)
    json_path, markdown_path = write_results(args.results_dir, stamp, args.scale, results, report)
    print(f"\nresults: {json_path}\nmarkdown: {markdown_path}")
    if args.record_path is not None:
        print(f"recorded: {record(args.record_path, args.command, results, report)}")
    print(f"({results['seconds']} s)")
    return 0


def generate_histories(report: Report, results: dict, admin_dsn: str, specs: dict, names: dict, reuse: bool) -> dict:
    """The x1, x10 and rss histories (generated, or reused with ``--reuse``), and their table."""
    from bench.generate import generate

    histories, rows = {}, []
    for label, spec in specs.items():
        histories[label] = history = generate(admin_dsn, names[label], spec, reuse=reuse)
        rows.append([label, spec.macro_days, spec.macro_per_day, spec.news_days, spec.news_per_day,
                     history.counts["macro_events"], history.counts["news_articles"],
                     history.counts["text_embeddings"], "reused" if history.reused else round(history.seconds, 1)])
    results["histories"] = {label: {"spec": {**asdict(h.spec), "last_date": h.spec.last_date.isoformat()},
                                    "counts": h.counts, "generate_seconds": round(h.seconds, 2),
                                    "reused": h.reused} for label, h in histories.items()}
    report.table("Generated histories (384-dim float32 vectors, binary COPY, seed 20251231)",
                 ["history", "macro days", "macro/day", "news days", "news/day", "macro_events",
                  "news_articles", "text_embeddings", "generate s"], rows)
    return histories


if __name__ == "__main__":
    raise SystemExit(main())
