"""A real Airflow 3 deployment for tests and benchmarks: api-server, scheduler, dag-processor (and a Celery
worker), on loopback, with a PostgreSQL metadata database of its own.

Usage::

    from devtools.airflow_stack import AirflowStack

    with AirflowStack(admin_dsn=..., work_dir=tmp_path, dags_folder=REPO_ROOT / "dags",
                      extra_env={"AIRFLOW_CONN_RUNTIME_DB": ..., "AIRFLOW_CONN_HISTORICAL_DB": ...}) as stack:
        stack.wait_for_dags(["joint_regime_macro_context"])
        stack.unpause("joint_regime_macro_context")
        backfill_id = stack.backfill("joint_regime_macro_context", "2025-01-01", "2025-01-31",
                                     reprocess_behavior="completed", max_active_runs=4)
        runs = stack.wait_for_backfill(backfill_id, timeout=600)   # [DagRunRecord(...), ...]

What it does:

- ``start()`` creates the metadata database ``<metadata_db_name>`` on the PostgreSQL server of ``admin_dsn``
  (the machine's server in CI, the embedded one elsewhere: a socket DSN works), runs ``airflow db migrate``,
  then starts ``airflow api-server`` (127.0.0.1, a free port), ``airflow scheduler --skip-serve-logs``,
  ``airflow dag-processor`` and, with ``executor="CeleryExecutor"``, ``airflow celery worker
  --skip-serve-logs`` consuming a queue of its own on ``redis_url``. No process listens on anything but
  127.0.0.1 (log servers are skipped; the Celery worker only connects to Redis).
- Each process runs in its own session (process group), logs to ``<work_dir>/logs/<name>.log`` and is stopped
  by ``stop()`` (also on ``__exit__``): SIGTERM to its process group, SIGKILL after ``stop_timeout`` seconds.
  Then the metadata database is dropped (unless ``keep_metadata_db``).
- Everything is configured through ``AIRFLOW__...`` variables in :attr:`env` (an ``AIRFLOW_HOME`` under
  ``work_dir``, JWT / API secrets made up per stack, the execution API URL, low parallelism); add the
  ``AIRFLOW_CONN_*`` of the data databases through ``extra_env``.

From a shell, ``python -m devtools.airflow_stack`` runs the same stack on the database ``make demo`` left in
``.local/pgdata`` (the embedded server), writes ``.local/airflow-stack/env.sh`` to ``source`` in another shell
for ``airflow backfill create ...`` and friends, and stops everything on Ctrl-C.

Helpers (each bounded by a timeout; a wait that times out raises ``TimeoutError`` with the tail of the logs):

- ``airflow(*args)``: run one CLI command with the stack's environment; ``unpause(dag_id)``, ``pause(dag_id)``;
- ``wait_for_dags(dag_ids)``: until the dag-processor has serialized them (import errors are reported);
- ``backfill(dag_id, from_date, to_date, conf=..., reprocess_behavior=..., max_active_runs=...)`` runs
  ``airflow backfill create`` and returns the new backfill's id (``check=False`` returns the
  ``CompletedProcess`` instead, for commands expected to be rejected);
- ``wait_for_backfill(backfill_id)``: until the scheduler marks it completed; returns its dag runs;
- ``dag_runs(dag_id, run_type=None)``, ``wait_for_runs(dag_id, predicate)``, ``wait_until(condition, what)``,
  ``task_instances(dag_id, run_id)``,
  ``task_log(dag_id, run_id, task_id)``, ``query(sql, params)`` on the metadata database.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from devtools import localdb
from devtools.paths import LOCAL_DIR, REPO_ROOT

FINAL_RUN_STATES = frozenset({"success", "failed"})
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sqlalchemy_url(dsn: str) -> str:
    """A ``postgresql+psycopg://`` URL for a libpq DSN (TCP or Unix-socket host)."""
    parts = conninfo_to_dict(dsn)
    user = parts.get("user", "postgres")
    password = parts.get("password")
    credentials = user if not password else f"{user}:{password}"
    host = parts.get("host", "127.0.0.1")
    port = parts.get("port", "5432")
    if host.startswith("/"):  # a socket folder: goes in the query string
        return f"postgresql+psycopg://{credentials}@/{parts['dbname']}?host={host}&port={port}"
    return f"postgresql+psycopg://{credentials}@{host}:{port}/{parts['dbname']}"


@dataclass(frozen=True)
class DagRunRecord:
    """One row of the metadata database's ``dag_run`` table, the fields tests look at."""

    dag_id: str
    run_id: str
    run_type: str
    state: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    conf: dict | None
    backfill_id: int | None
    queued_at: datetime | None

    @property
    def as_of_date(self) -> date:
        """The run's ``{{ ds }}``: the UTC date its data interval starts on."""
        return self.data_interval_start.date()


class AirflowStack:
    """A running Airflow 3 (api-server, scheduler, dag-processor, optional Celery worker) for one test session.

    :param admin_dsn: superuser DSN of the PostgreSQL server that holds the metadata database.
    :param work_dir: folder for ``AIRFLOW_HOME`` and the process logs (created).
    :param dags_folder: the DAG files the stack parses.
    :param extra_env: more environment for every process, e.g. the ``AIRFLOW_CONN_*`` of the data databases.
    :param executor: ``LocalExecutor`` (default) or ``CeleryExecutor``.
    :param redis_url: broker for ``CeleryExecutor``, e.g. ``redis://127.0.0.1:6379/0``.
    :param parallelism: task slots of the executor (LocalExecutor workers / Celery worker concurrency).
    :param metadata_db_name: name of the metadata database (default: unique per stack).
    :param keep_metadata_db: leave the metadata database after ``stop()`` (to inspect it).
    :param stop_timeout: seconds between SIGTERM and SIGKILL of a process group.
    """

    def __init__(
        self,
        *,
        admin_dsn: str,
        work_dir: Path,
        dags_folder: Path,
        extra_env: Mapping[str, str] | None = None,
        executor: str = "LocalExecutor",
        redis_url: str | None = None,
        parallelism: int = 4,
        metadata_db_name: str | None = None,
        keep_metadata_db: bool = False,
        stop_timeout: float = 20.0,
    ) -> None:
        if executor not in ("LocalExecutor", "CeleryExecutor"):
            raise ValueError(f"executor must be LocalExecutor or CeleryExecutor, got {executor!r}")
        if executor == "CeleryExecutor" and not redis_url:
            raise ValueError("CeleryExecutor needs redis_url, e.g. redis://127.0.0.1:6379/0")
        self.admin_dsn = admin_dsn
        self.work_dir = Path(work_dir)
        self.home = self.work_dir / "airflow-home"
        self.log_dir = self.work_dir / "logs"
        self.dags_folder = Path(dags_folder)
        self.executor = executor
        self.redis_url = redis_url
        self.parallelism = parallelism
        self.metadata_db_name = metadata_db_name or f"jc_airflow_{uuid.uuid4().hex[:8]}"
        self.keep_metadata_db = keep_metadata_db
        self.stop_timeout = stop_timeout
        self.metadata_dsn = localdb.dsn_for(admin_dsn, self.metadata_db_name)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.celery_queue = f"jc_{uuid.uuid4().hex[:10]}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._log_files: list = []
        self._metadata_db_created = False
        self.env = self._environment(extra_env or {})

    # -- set-up and tear-down ------------------------------------------------------------------------------

    def _environment(self, extra_env: Mapping[str, str]) -> dict[str, str]:
        python_path = [str(REPO_ROOT)]  # devtools and tests; the package is installed in the venv
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(python_path + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.metadata_dsn),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        })
        if self.executor == "CeleryExecutor":
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": self.redis_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sqlalchemy_url(self.metadata_dsn),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.parallelism),
                # a queue of our own: other sessions on the same Redis cannot take our tasks
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.celery_queue,
            })
        env.update(extra_env)
        return env

    def start(self, timeout: float = 300.0) -> AirflowStack:
        """Create and migrate the metadata database, start the processes, wait until the API answers."""
        deadline = time.monotonic() + timeout
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        localdb.create_database(self.admin_dsn, self.metadata_db_name)
        self._metadata_db_created = True
        self.airflow("db", "migrate", timeout=max(deadline - time.monotonic(), 1))
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)])
        self._spawn("scheduler", ["scheduler", "--skip-serve-logs"])
        self._spawn("dag-processor", ["dag-processor"])
        if self.executor == "CeleryExecutor":
            self._spawn("celery-worker", [
                "celery", "worker", "--skip-serve-logs", "--queues", self.celery_queue,
                "--concurrency", str(self.parallelism), "--celery-hostname", f"{self.celery_queue}@%h",
                "--without-gossip", "--without-mingle",
            ])
        self.wait_until(self._api_is_healthy, "the api-server to answer /api/v2/monitor/health",
                   max(deadline - time.monotonic(), 1))
        return self

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log_file = (self.log_dir / f"{name}.log").open("ab")
        self._log_files.append(log_file)
        self.processes[name] = subprocess.Popen(
            [str(AIRFLOW_BIN), *args], env=self.env, cwd=self.work_dir, stdout=log_file,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def stop(self) -> None:
        """Stop every process group (SIGTERM, then SIGKILL), then drop the metadata database."""
        for name in ("celery-worker", "scheduler", "dag-processor", "api-server"):
            process = self.processes.get(name)
            if process is not None:
                self._stop_process_group(process)
        self.processes.clear()
        for log_file in self._log_files:
            log_file.close()
        self._log_files.clear()
        if self._metadata_db_created and not self.keep_metadata_db:
            localdb.drop_database(self.admin_dsn, self.metadata_db_name)
            self._metadata_db_created = False

    def _stop_process_group(self, process: subprocess.Popen) -> None:
        for sig, wait_seconds in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(process.pid, sig)  # the group we started: pgid == pid (start_new_session)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait_seconds)
                deadline = time.monotonic() + wait_seconds
                while _group_alive(process.pid) and time.monotonic() < deadline:
                    time.sleep(0.2)  # children (task processes, celery pool) leave after their parent
                if not _group_alive(process.pid):
                    return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> AirflowStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- commands ------------------------------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 180.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` with the stack's environment; raise with its output if it fails and ``check``."""
        completed = subprocess.run(
            [str(AIRFLOW_BIN), *args], env=self.env, cwd=self.work_dir, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} exited {completed.returncode}\n"
                f"stdout: {completed.stdout[-3000:]}\nstderr: {completed.stderr[-3000:]}"
            )
        return completed

    def unpause(self, dag_id: str) -> None:
        self.airflow("dags", "unpause", dag_id)

    def pause(self, dag_id: str) -> None:
        self.airflow("dags", "pause", dag_id)

    def backfill(
        self,
        dag_id: str,
        from_date: str | date,
        to_date: str | date,
        *,
        conf: Mapping | None = None,
        reprocess_behavior: str | None = None,
        max_active_runs: int | None = None,
        check: bool = True,
        timeout: float = 180.0,
    ) -> int | subprocess.CompletedProcess:
        """``airflow backfill create``; returns the new backfill's id (or the process when ``check=False``)."""
        args = ["backfill", "create", "--dag-id", dag_id, "--from-date", str(from_date), "--to-date", str(to_date)]
        if conf is not None:
            args += ["--dag-run-conf", json.dumps(conf)]
        if reprocess_behavior is not None:
            args += ["--reprocess-behavior", reprocess_behavior]
        if max_active_runs is not None:
            args += ["--max-active-runs", str(max_active_runs)]
        before = self._latest_backfill_id(dag_id)
        completed = self.airflow(*args, check=check, timeout=timeout)
        if not check:
            return completed
        after = self._latest_backfill_id(dag_id)
        if after is None or after == before:
            raise RuntimeError(f"airflow {' '.join(args)} created no backfill:\n{completed.stdout}{completed.stderr}")
        return after

    def _latest_backfill_id(self, dag_id: str) -> int | None:
        rows = self.query("SELECT max(id) AS id FROM backfill WHERE dag_id = %(dag_id)s", {"dag_id": dag_id})
        return rows[0]["id"]

    # -- the metadata database -----------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping | Sequence | None = None) -> list[dict]:
        """Rows of a query on the metadata database, as dicts."""
        with psycopg.connect(self.metadata_dsn, row_factory=dict_row, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def dag_runs(self, dag_id: str, run_type: str | None = None, backfill_id: int | None = None) -> list[DagRunRecord]:
        rows = self.query(
            "SELECT dag_id, run_id, run_type, state, logical_date, data_interval_start, data_interval_end, conf,"
            " backfill_id, queued_at FROM dag_run WHERE dag_id = %(dag_id)s"
            " AND (%(run_type)s::text IS NULL OR run_type = %(run_type)s::text)"
            " AND (%(backfill_id)s::int IS NULL OR backfill_id = %(backfill_id)s::int)"
            " ORDER BY data_interval_start, id",
            {"dag_id": dag_id, "run_type": run_type, "backfill_id": backfill_id},
        )
        return [DagRunRecord(**{**row, "conf": _json_value(row["conf"])}) for row in rows]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        """``task_id -> {state, try_number, hostname, pid, queue, ...}`` of one run."""
        rows = self.query(
            "SELECT task_id, state, try_number, hostname, pid, queue, executor, start_date, end_date"
            " FROM task_instance WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s",
            {"dag_id": dag_id, "run_id": run_id},
        )
        return {row["task_id"]: row for row in rows}

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The text of every attempt's log file of one task (empty if none was written)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.glob("**/*.log")))

    # -- waiting -------------------------------------------------------------------------------------------

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180.0) -> None:
        """Until every DAG is serialized in the metadata database; fails early on an import error."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            errors = self.query("SELECT filename, stacktrace FROM import_error")
            if errors:
                raise RuntimeError(f"DAG import errors: {errors}")
            rows = self.query("SELECT dag_id FROM serialized_dag WHERE dag_id = ANY(%(ids)s)", {"ids": list(wanted)})
            return {row["dag_id"] for row in rows} == wanted

        self.wait_until(parsed, f"the dag-processor to serialize {sorted(wanted)}", timeout)

    def wait_for_backfill(self, backfill_id: int, timeout: float = 300.0) -> list[DagRunRecord]:
        """Until the scheduler marks the backfill completed; returns its dag runs (date order)."""

        def completed() -> bool:
            rows = self.query("SELECT completed_at FROM backfill WHERE id = %(id)s", {"id": backfill_id})
            return bool(rows) and rows[0]["completed_at"] is not None

        self.wait_until(completed, f"backfill {backfill_id} to complete", timeout)
        (row,) = self.query("SELECT dag_id FROM backfill WHERE id = %(id)s", {"id": backfill_id})
        return self.backfill_runs(row["dag_id"], backfill_id)

    def backfill_runs(self, dag_id: str, backfill_id: int) -> list[DagRunRecord]:
        """The dag runs a backfill created or cleared (a rerun reuses the run of an already-run date)."""
        run_ids = {
            row["run_id"] for row in self.query(
                "SELECT dr.run_id FROM backfill_dag_run bdr JOIN dag_run dr ON dr.id = bdr.dag_run_id"
                " WHERE bdr.backfill_id = %(id)s", {"id": backfill_id})
        }
        return [run for run in self.dag_runs(dag_id) if run.run_id in run_ids]

    def wait_for_runs(
        self,
        dag_id: str,
        predicate: Callable[[list[DagRunRecord]], bool],
        *,
        run_type: str | None = None,
        timeout: float = 180.0,
        what: str = "",
    ) -> list[DagRunRecord]:
        """Until ``predicate(dag_runs)`` is true; returns the runs it accepted."""
        accepted: list[list[DagRunRecord]] = []

        def check() -> bool:
            runs = self.dag_runs(dag_id, run_type=run_type)
            if predicate(runs):
                accepted.append(runs)
                return True
            return False

        self.wait_until(check, what or f"runs of {dag_id} to satisfy {getattr(predicate, '__name__', 'a condition')}",
                   timeout)
        return accepted[-1]

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float, interval: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}\n{self.log_tails()}")
            time.sleep(interval)

    def _api_is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def check_alive(self) -> None:
        """Raise if a process of the stack has exited (with the tail of its log)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}\n{self.log_tails([name])}")

    def log_tails(self, names: Iterable[str] | None = None, lines: int = 40) -> str:
        parts = []
        for name in names or self.processes:
            path = self.log_dir / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _json_value(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a stack on the demo's databases until Ctrl-C (see the module docstring)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m devtools.airflow_stack",
        description="Run api-server, scheduler and dag-processor on loopback over the databases of `make demo`.",
    )
    parser.add_argument("--executor", choices=["LocalExecutor", "CeleryExecutor"], default="LocalExecutor")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="broker for CeleryExecutor")
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args(argv)

    local_dir = LOCAL_DIR
    if not (local_dir / "pgdata").exists():
        parser.error("no demo database in .local/pgdata: run `make demo` first")
    server = localdb.start_embedded_server(local_dir / "pgdata", cleanup_mode="stop")
    try:
        return _serve(args, server.get_uri(), local_dir)
    finally:
        server.cleanup()


def _serve(args, admin_dsn: str, local_dir: Path) -> int:
    connections = {
        "AIRFLOW_CONN_RUNTIME_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "runtime_db")),
        "AIRFLOW_CONN_HISTORICAL_DB": localdb.airflow_connection_json(localdb.dsn_for(admin_dsn, "historical_db")),
    }
    work_dir = local_dir / "airflow-stack"
    stack = AirflowStack(
        admin_dsn=admin_dsn, work_dir=work_dir, dags_folder=REPO_ROOT / "dags", extra_env=connections,
        executor=args.executor, redis_url=args.redis_url if args.executor == "CeleryExecutor" else None,
        parallelism=args.parallelism, metadata_db_name="airflow_stack_demo",
    )
    with stack:
        stack.wait_for_dags(["joint_regime_macro_context", "joint_regime_news_context"])
        env_file = work_dir / "env.sh"
        exported = {key: value for key, value in stack.env.items() if key.startswith("AIRFLOW")}
        env_file.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(exported.items())))
        print(f"Airflow {args.executor} stack up: API {stack.api_url} (loopback only), logs in {stack.log_dir}")
        print(f"In another shell: source {env_file.relative_to(REPO_ROOT)}  then e.g.")
        print("  airflow dags unpause joint_regime_macro_context")
        print("  airflow backfill create --dag-id joint_regime_macro_context"
              " --from-date 2025-01-01 --to-date 2025-01-31")
        print("Ctrl-C stops the stack (the metadata database airflow_stack_demo is dropped).")
        try:
            while True:
                stack.check_alive()
                time.sleep(5)
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
