"""``python -m devtools.airflow_stack`` (``make stack``): the stack of :mod:`devtools.airflow.stack` on the databases
``make demo`` left in ``.local/pgdata`` (the embedded server, started here), until SIGINT or SIGTERM.

It writes ``<work dir>/env.sh`` to ``source`` in another shell for ``airflow backfill create ...`` and friends,
prints how to sign in and the process group of each Airflow process. On SIGINT or SIGTERM (Ctrl-C, ``kill``) it
stops every Airflow process, drops its metadata database and stops the embedded server, once: a second signal
during that clean-up is only reported (:mod:`devtools.shutdown`).
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from devtools import localdb, shutdown
from devtools.airflow.stack import EXECUTORS, AirflowStack
from devtools.paths import LOCAL_DIR, REPO_ROOT

DAG_IDS = ["joint_regime_macro_context", "joint_regime_news_context"]
METADATA_DB_NAME = "airflow_stack_demo"
UP_MESSAGE = "Airflow stack up"  # the line that says the stack is ready (tests wait for it)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.airflow_stack",
        description="Run api-server, scheduler and dag-processor on loopback over the databases of `make demo`.",
    )
    parser.add_argument("--executor", choices=EXECUTORS, default="LocalExecutor")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker for CeleryExecutor")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--celery-workers", type=int, default=1, help="Celery worker processes (CeleryExecutor)")
    parser.add_argument("--pgdata", type=Path, default=LOCAL_DIR / "pgdata",
                        help="data folder of the embedded PostgreSQL (default: the demo's, .local/pgdata)")
    parser.add_argument("--work-dir", type=Path, default=LOCAL_DIR / "airflow-stack",
                        help="AIRFLOW_HOME, logs and env.sh (default .local/airflow-stack)")
    args = parser.parse_args(argv)
    if not args.pgdata.exists():
        parser.error(f"no database in {args.pgdata}: run `make demo` first")
    return args


def login_instructions(stack: AirflowStack) -> str:
    """How to sign in to the UI and the REST API, as the stack is configured."""
    if stack.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS") == "True":
        return (f"Sign-in: none. The simple auth manager runs with simple_auth_manager_all_admins=True, so every "
                f"request to {stack.api_url} (UI and REST API) is an anonymous admin: there are no users or passwords;"
                " only this machine can reach it (loopback).")
    users = stack.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    password_file = stack.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
                                  str(stack.home / "simple_auth_manager_passwords.json.generated"))
    return f"Sign-in at {stack.api_url}: users {users} (user:role); their passwords are in {password_file}."


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with shutdown.stop_on_signals():
        try:
            return _run(args)
        except shutdown.StopRequested:
            print("stopped: the Airflow processes, their metadata database and the embedded server", flush=True)
            return 0


def _run(args: argparse.Namespace) -> int:
    with localdb.embedded_server(args.pgdata) as server:
        return _serve(args, server.get_uri())


def _serve(args: argparse.Namespace, admin_dsn: str) -> int:
    connections = {
        "AIRFLOW_CONN_RUNTIME_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "runtime_db")),
        "AIRFLOW_CONN_HISTORICAL_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "historical_db")),
    }
    work_dir = args.work_dir.resolve()
    stack = AirflowStack(
        admin_dsn=admin_dsn, work_dir=work_dir, dags_folder=REPO_ROOT / "dags", extra_env=connections,
        executor=args.executor, redis_url=args.redis_url if args.executor == "CeleryExecutor" else None,
        parallelism=args.parallelism, celery_workers=args.celery_workers, metadata_db_name=METADATA_DB_NAME,
    )
    with stack:
        stack.wait_for_dags(DAG_IDS)
        env_file = work_dir / "env.sh"
        exported = {key: value for key, value in stack.env.items() if key.startswith("AIRFLOW")}
        env_file.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(exported.items())))
        groups = ", ".join(f"{name} {process.pid}" for name, process in stack.processes.items())
        print(f"{UP_MESSAGE} ({args.executor}): API {stack.api_url} (loopback only), logs in {stack.log_dir}")
        print(login_instructions(stack))
        print(f"Process groups (pgid = pid of each leader): {groups}")
        print(f"In another shell: source {_shown(env_file)}  then e.g.")
        print("  airflow dags unpause joint_regime_macro_context")
        print("  airflow backfill create --dag-id joint_regime_macro_context"
              " --from-date 2025-01-01 --to-date 2025-01-31")
        print(f"Ctrl-C or SIGTERM stops the stack (the metadata database {METADATA_DB_NAME} is dropped) and the "
              "embedded server.", flush=True)
        while True:
            stack.check_alive()
            time.sleep(5)


def _shown(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
