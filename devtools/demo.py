"""``make demo``: the main job on an embedded PostgreSQL, end to end through Airflow.

1. starts an embedded PostgreSQL under ``.local/pgdata`` (Unix socket only, no TCP port);
2. creates ``runtime_db`` and ``historical_db`` from ``include/sql/schema`` and seeds January 2025 for two
   regions (macro events on weekdays, news every day, a few missing regimes);
3. runs the macro and news DAGs, then the combined DAG, for every day of the month through Airflow (``dag.test``,
   Airflow home ``.local/airflow``);
4. prints, per date and region, what each space wrote or skipped and why; stops the database.

The databases are left in ``.local/pgdata`` so the command line can be tried on them afterwards:
``make cli ARGS="show --date-range 2025-01-01 2025-01-31"`` (``--cli``) starts the server, runs ``joint-context``
with the demo's DSNs and stops it again; ``make demo-db`` (``--serve``) keeps it up for other shells until Ctrl-C or
SIGTERM. Every mode stops the server it started, on an error or a stop signal too (``devtools.shutdown``: once, a
second signal does not cut the clean-up short); ``--pgdata`` names another data folder than ``.local/pgdata``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

from devtools import localdb, shutdown
from devtools.airflow import processes
from devtools.paths import LOCAL_DIR, REPO_ROOT
from devtools.seed import DEMO_DAYS, DEMO_FIRST_DATE, DEMO_MACRO_CONTEXTS, DEMO_NEWS_CONTEXTS, seed_demo

PGDATA = LOCAL_DIR / "pgdata"
AIRFLOW_HOME = LOCAL_DIR / "airflow"
AIRFLOW_LOG = LOCAL_DIR / "demo-airflow.log"
RUNS_FILE = LOCAL_DIR / "demo-runs.json"
SERVE_UP_MESSAGE = "Demo PostgreSQL is up"  # tests wait for this line
# a combined context carries the macro filters and the news filter of its region, so it reads the rows written above
DEMO_COMBINED_CONTEXTS = [{**macro, **news}
                          for macro, news in zip(DEMO_MACRO_CONTEXTS, DEMO_NEWS_CONTEXTS, strict=True)]
DAG_CONF = {"joint_regime_macro_context": DEMO_MACRO_CONTEXTS, "joint_regime_news_context": DEMO_NEWS_CONTEXTS,
            "joint_regime_combined_context": DEMO_COMBINED_CONTEXTS}  # in this order: the combined DAG runs last
WRITE_TASK = {"joint_regime_combined_context": "combine"}  # the task whose XCom says what was written; else "write"
SPACE_COLUMNS = (("joint_regime_macro_context", "REGIME_MACRO_V0", "macro text"),
                 ("joint_regime_news_context", "REGIME_CONTEXT_V0", "news text"),
                 ("joint_regime_combined_context", "REGIME_COMBINED_V0", "macro+news rows"))


def airflow_environment(admin_dsn: str) -> dict[str, str]:
    """The environment every Airflow command of the demo runs with (also printed for the user)."""
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_RUNTIME_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "runtime_db")),
        "AIRFLOW_CONN_HISTORICAL_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "historical_db")),
    }


def run_dags_in_airflow() -> None:
    """(Child process.) Run the DAGs for each demo day through ``dag.test``; save what each write reported."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    reports = []
    for offset in range(DEMO_DAYS):
        as_of_date = DEMO_FIRST_DATE + timedelta(days=offset)
        for dag_id, contexts in DAG_CONF.items():
            dag = DagBag().dags[dag_id]  # parsed afresh, as a task process would
            dag_run = dag.test(
                logical_date=pendulum.datetime(as_of_date.year, as_of_date.month, as_of_date.day, tz="UTC"),
                run_conf={"contexts": contexts},
            )
            with create_session() as session:
                xcom = session.scalars(XComModel.get_many(
                    run_id=dag_run.run_id, dag_ids=dag_id, task_ids=WRITE_TASK.get(dag_id, "write"),
                    key="return_value")).first()
                written = None if xcom is None else XComModel.deserialize_value(xcom)
            if written is not None and "summaries" in written:  # the combined task: one summary per date computed
                (written,) = written["summaries"]
            reports.append({"dag_id": dag_id, "as_of_date": as_of_date.isoformat(),
                            "state": str(getattr(dag_run.state, "value", dag_run.state)), "write": written})
    RUNS_FILE.write_text(json.dumps(reports))


def print_table(historical_dsn: str) -> None:
    reports = json.loads(RUNS_FILE.read_text())
    with psycopg.connect(historical_dsn) as conn:
        stored = conn.execute(
            "SELECT joint_type, as_of_date, entity_scope->>'region', count(*) FROM joint_embeddings"
            " GROUP BY 1, 2, 3"
        ).fetchall()
    rows_per_key = {(joint_type, day.isoformat(), region): count for joint_type, day, region, count in stored}
    header = f"{'as_of_date':<11} {'region':<6} " + " ".join(
        f"{f'{joint_type} ({inputs})':<46}" for _dag_id, joint_type, inputs in SPACE_COLUMNS).rstrip()
    print(header)
    print("-" * len(header))
    by_date: dict[str, dict[str, dict]] = {}
    for report in reports:
        by_date.setdefault(report["as_of_date"], {})[report["dag_id"]] = report
    totals = {"written": 0, "skipped": 0, "failed": 0}
    for as_of_date, dags in sorted(by_date.items()):
        for index, region in enumerate(("US", "EU")):
            cells = [describe(dags[dag_id], region, rows_per_key.get((joint_type, as_of_date, region), 0), totals)
                     for dag_id, joint_type, _inputs in SPACE_COLUMNS]
            print(f"{as_of_date if index == 0 else '':<11} {region:<6} " + " ".join(f"{cell:<46}" for cell in cells))
    print("-" * len(header))
    print(f"{totals['written']} joint vectors written, {totals['skipped']} skipped, {totals['failed']} failed; "
          f"rows in historical_db.joint_embeddings: {sum(rows_per_key.values())}")
    print_text_shares(reports)


def print_text_shares(reports: list[dict]) -> None:
    """Per space, the text branch's share ``|w_t*z_text| / (|w_n*z_num| + |w_t*z_text|)`` over the month's vectors."""
    print("\nText branch's share of each joint vector (joint-context explain shows one day's):")
    for dag_id, joint_type in (("joint_regime_macro_context", "REGIME_MACRO_V0"),
                               ("joint_regime_news_context", "REGIME_CONTEXT_V0")):
        shares = sorted(context["text_share"] for report in reports if report["dag_id"] == dag_id and report["write"]
                        for context in report["write"]["contexts"] if context.get("text_share") is not None)
        if not shares:
            print(f"  {joint_type}: no joint vector written")
            continue
        print(f"  {joint_type}: median {statistics.median(shares):.3g}, range {shares[0]:.3g}..{shares[-1]:.3g} "
              f"over {len(shares)} vectors")


def describe(report: dict, region: str, stored_rows: int, totals: dict) -> str:
    if report["state"] != "success" or report["write"] is None:
        totals["failed"] += 1
        return f"run {report['state']} (see {AIRFLOW_LOG.name})"
    (context,) = [c for c in report["write"]["contexts"] if c["entity_scope"]["region"] == region]
    filters = {name: value for key, value in context["entity_scope"].items() if key.endswith("_filters")
               for name, value in value.items()}
    scope = ",".join(f"{key}={value}" for key, value in filters.items())
    if context["action"] in ("written", "replaced"):
        totals["written"] += 1
        if "branch_rows" in context:  # the combined space: from which stored rows
            return f"written [{scope}] 2 rows, |z|={context['l2_norm']:.3f}, {stored_rows} row"
        texts = context["text_vector_count"]
        return f"written [{scope}] {texts} text(s), |z|={context['l2_norm']:.3f}, {stored_rows} row"
    totals["skipped"] += 1
    return f"skipped [{scope}] {context['skip_reason']}"


def run_cli_on_demo_databases(cli_args: list[str], pgdata: Path = PGDATA) -> int:
    """``joint-context <cli_args>`` with ``JOINT_CONTEXT_*_DSN`` naming the demo's databases."""
    if not pgdata.exists():
        print(f"no demo database in {pgdata}: run `make demo` first", file=sys.stderr)
        return 2
    from joint_context.cli import main as cli_main

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: the CLI reports it, 130
    with localdb.embedded_server(pgdata) as server:
        admin_dsn = server.get_uri()
        os.environ["JOINT_CONTEXT_RUNTIME_DSN"] = localdb.dsn_for(admin_dsn, "runtime_db")
        os.environ["JOINT_CONTEXT_HISTORICAL_DSN"] = localdb.dsn_for(admin_dsn, "historical_db")
        return cli_main(cli_args or ["--help"])


def serve(pgdata: Path) -> int:
    """Keep the embedded server of ``pgdata`` up and say how to reach it, until SIGINT or SIGTERM."""
    if not pgdata.exists():
        print(f"no demo database in {pgdata}: run `make demo` first", file=sys.stderr)
        return 2
    with localdb.embedded_server(pgdata) as server:
        environment = airflow_environment(server.get_uri())
        print(f"{SERVE_UP_MESSAGE} (Unix socket only, postmaster pid {server.get_pid()}). "
              "Use these settings in another shell:")
        for name in ("AIRFLOW_CONN_RUNTIME_DB", "AIRFLOW_CONN_HISTORICAL_DB"):
            print(f"export {name}='{environment[name]}'")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        while True:
            time.sleep(3600)


def run_demo(pgdata: Path) -> int:
    LOCAL_DIR.mkdir(exist_ok=True)
    started = time.monotonic()
    with localdb.embedded_server(pgdata) as server:
        admin_dsn = server.get_uri()
        print(f"Embedded PostgreSQL {localdb.check_server(admin_dsn)} at {_shown(pgdata)} (Unix socket, no TCP port)")
        runtime_dsn = localdb.create_database(admin_dsn, "runtime_db", "runtime_db.sql")
        historical_dsn = localdb.create_database(admin_dsn, "historical_db", "historical_db.sql")
        with psycopg.connect(runtime_dsn) as runtime_conn, psycopg.connect(historical_dsn) as historical_conn:
            summary = seed_demo(runtime_conn, historical_conn)
        last_date = DEMO_FIRST_DATE + timedelta(days=DEMO_DAYS - 1)
        print(f"Seeded {DEMO_FIRST_DATE}..{last_date}: {summary.regimes} regime rows, {summary.macro_events} macro "
              f"events, {summary.news_articles} news articles (384-dim vectors)")

        child_env = {**os.environ, **airflow_environment(admin_dsn)}
        AIRFLOW_LOG.write_text("")
        run_logged([sys.executable, "-m", "airflow", "db", "migrate"], child_env, timeout=600)
        print(f"Running the three DAGs for {DEMO_DAYS} days through Airflow (log: {_shown(AIRFLOW_LOG)})")
        run_logged([sys.executable, "-m", "devtools.demo", "--run-dags"], child_env, timeout=1800)
        print()
        print_table(historical_dsn)
    print(f"\nDone in {time.monotonic() - started:.0f} s. The databases stay in {_shown(pgdata)}"
          " (stopped). Try the command line on them: make cli ARGS=\"show --date-range 2025-01-01 2025-01-31\"")
    return 0


def run_logged(command: list[str], env: dict[str, str], timeout: float) -> None:
    """``command`` in a process group of its own (stopped with the demo), its output appended to the demo's log."""
    completed = processes.run_bounded(command, env=env, cwd=REPO_ROOT, timeout=timeout, log_path=AIRFLOW_LOG)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command[1:])} exited {completed.returncode}; see {_shown(AIRFLOW_LOG)}")


def _shown(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true",
                        help="only start the demo's PostgreSQL and print the connection settings; Ctrl-C stops it")
    parser.add_argument("--cli", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="run `joint-context ARGS` on the demo's databases (the server is started and stopped)")
    parser.add_argument("--pgdata", type=Path, default=PGDATA,
                        help="data folder of the embedded PostgreSQL (default .local/pgdata)")
    parser.add_argument("--run-dags", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_dags:
        run_dags_in_airflow()
        return 0
    if args.cli is not None:
        return run_cli_on_demo_databases(args.cli, args.pgdata)
    with shutdown.stop_on_signals():
        try:
            return serve(args.pgdata) if args.serve else run_demo(args.pgdata)
        except shutdown.StopRequested:
            print("stopped: the embedded PostgreSQL is shut down", flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
