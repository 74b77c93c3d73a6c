"""A real Airflow 3 deployment for tests and benchmarks: api-server, scheduler, dag-processor (and Celery
workers), on loopback, with a PostgreSQL metadata database of its own.

Usage::

    from devtools.airflow.stack import AirflowStack

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
  ``airflow dag-processor`` and, with ``executor="CeleryExecutor"``, ``celery_workers`` times ``airflow celery
  worker --skip-serve-logs`` (each its own process, log file and ``--celery-hostname``) consuming a queue of the
  stack's own on ``redis_url``. Nothing listens on anything but 127.0.0.1 (log servers are skipped; the Celery
  workers only connect to Redis).
- Each process leads its own process group, logs to ``<work_dir>/logs/<name>.log`` (``celery-worker``, then
  ``celery-worker-2``, ...) and is stopped by ``stop()`` (also on ``__exit__``): SIGTERM to the executors' groups,
  then to the api-server's (tasks finishing on a warm shutdown still reach the execution API), SIGKILL after
  ``stop_timeout`` seconds; then the metadata database is dropped (unless ``keep_metadata_db``). ``stop()`` is
  idempotent and, under :func:`devtools.shutdown.stop_on_signals`, not interrupted by a second signal.
- Everything is configured through ``AIRFLOW__...`` variables in :attr:`env` (an ``AIRFLOW_HOME`` under
  ``work_dir``, JWT / API secrets made up per stack, the execution API URL, low parallelism); add the
  ``AIRFLOW_CONN_*`` of the data databases through ``extra_env``.

Helpers, each bounded by a timeout: ``airflow(*args)`` (one CLI command in the stack's environment), ``unpause``,
``pause``, ``backfill(...)`` (returns the new backfill's id; ``check=False``: the ``CompletedProcess`` of a command
expected to be rejected), ``task_log``, and the queries and waits of ``metadata.MetadataQueries``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

from devtools import localdb, shutdown
from devtools.airflow import processes
from devtools.airflow.metadata import MetadataQueries, sqlalchemy_url
from devtools.paths import REPO_ROOT

AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
EXECUTORS = ("LocalExecutor", "CeleryExecutor")


class AirflowStack(MetadataQueries):
    """A running Airflow 3 (api-server, scheduler, dag-processor, optional Celery workers) for one test session.

    :param admin_dsn: superuser DSN of the PostgreSQL server that holds the metadata database.
    :param work_dir: folder for ``AIRFLOW_HOME`` and the process logs (created).
    :param dags_folder: the DAG files the stack parses.
    :param extra_env: more environment for every process, e.g. the ``AIRFLOW_CONN_*`` of the data databases.
    :param executor: ``LocalExecutor`` (default) or ``CeleryExecutor``.
    :param redis_url: broker for ``CeleryExecutor``, e.g. ``redis://127.0.0.1:6379/0``.
    :param parallelism: task slots of the executor (LocalExecutor workers; Celery: shared out among the workers).
    :param celery_workers: how many ``airflow celery worker`` processes (``CeleryExecutor`` only).
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
        celery_workers: int = 1,
        metadata_db_name: str | None = None,
        keep_metadata_db: bool = False,
        stop_timeout: float = 20.0,
    ) -> None:
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be LocalExecutor or CeleryExecutor, got {executor!r}")
        if executor == "CeleryExecutor" and not redis_url:
            raise ValueError("CeleryExecutor needs redis_url, e.g. redis://127.0.0.1:6379/0")
        if celery_workers < 1 or (celery_workers > 1 and executor != "CeleryExecutor"):
            raise ValueError(f"celery_workers={celery_workers}: at least 1, and more only with CeleryExecutor")
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
        self.api_port = processes.free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.celery_queue = f"jc_{uuid.uuid4().hex[:10]}"
        count = celery_workers if executor == "CeleryExecutor" else 0
        # worker name -> its --celery-hostname; the first keeps the name a single worker always had
        self.celery_hostnames = {
            ("celery-worker" if n == 1 else f"celery-worker-{n}"): f"{self.celery_queue}-{n}@%h"
            for n in range(1, count + 1)
        }
        self.worker_concurrency = max(1, -(-parallelism // max(count, 1)))  # ceil: the slots shared out
        self.processes: dict[str, subprocess.Popen] = {}
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
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
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
        with shutdown.deferred():  # created and recorded together: stop() drops what start() made
            localdb.create_database(self.admin_dsn, self.metadata_db_name)
            self._metadata_db_created = True
        self.airflow("db", "migrate", timeout=max(deadline - time.monotonic(), 1))
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)])
        self._spawn("scheduler", ["scheduler", "--skip-serve-logs"])
        self._spawn("dag-processor", ["dag-processor"])
        for name, hostname in self.celery_hostnames.items():
            self._spawn(name, [
                "celery", "worker", "--skip-serve-logs", "--queues", self.celery_queue,
                "--concurrency", str(self.worker_concurrency), "--celery-hostname", hostname,
                "--without-gossip", "--without-mingle",
            ])
        self.wait_until(self._api_is_healthy, "the api-server to answer /api/v2/monitor/health",
                        max(deadline - time.monotonic(), 1))
        return self

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        with shutdown.deferred():
            self.processes[name] = processes.spawn([str(AIRFLOW_BIN), *args], env=self.env, cwd=self.work_dir,
                                                   log_path=self.log_dir / f"{name}.log")

    def stop(self) -> None:
        """Stop the executors' process groups, then the api-server's; then drop the metadata database."""
        with shutdown.stopping():
            executors = [process for name, process in self.processes.items() if name != "api-server"]
            left = processes.stop_groups(executors, term_timeout=self.stop_timeout)
            if "api-server" in self.processes:
                left += processes.stop_groups([self.processes["api-server"]], term_timeout=self.stop_timeout)
            if left:
                print(f"airflow stack: still alive after SIGKILL: {left}", file=sys.stderr)
            self.processes.clear()
            if self._metadata_db_created and not self.keep_metadata_db:
                localdb.drop_database(self.admin_dsn, self.metadata_db_name)
                self._metadata_db_created = False

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
        completed = processes.run_bounded([str(AIRFLOW_BIN), *args], env=self.env, cwd=self.work_dir,
                                          timeout=timeout, merge_stderr=False)
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
        before = self.latest_backfill_id(dag_id)
        completed = self.airflow(*args, check=check, timeout=timeout)
        if not check:
            return completed
        after = self.latest_backfill_id(dag_id)
        if after is None or after == before:
            raise RuntimeError(f"airflow {' '.join(args)} created no backfill:\n{completed.stdout}{completed.stderr}")
        return after

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The text of every attempt's log file of one task (empty if none was written)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.glob("**/*.log")))

    # -- health --------------------------------------------------------------------------------------------

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
