"""Shared pieces of the reliability and security tests: a seeded day, writer processes, bounded waits.

Every wait here is bounded by a timeout, every process started is stopped by its PID in a ``finally``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
import pytest

from devtools.paths import REPO_ROOT
from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import expected_joint, random_vectors

DAY = date(2025, 1, 2)
DIMENSION = 16
WAIT_TIMEOUT_SECONDS = 60
PROCESS_TIMEOUT_SECONDS = 120


def scope(region: str, **macro_filters: str) -> dict:
    return {"region": region, "source": "regime+macro", "macro_filters": dict(sorted(macro_filters.items()))}


@dataclass
class SeededDay:
    """Regimes and macro text of one day for US (country US) and EU (country DE), and the expected joints."""

    as_of_date: date
    params: dict
    expected: dict[str, np.ndarray]  # region -> expected joint vector

    def conf_reversed(self) -> dict:
        return {**self.params, "contexts": list(reversed(self.params["contexts"]))}


def seed_day(runtime_conn, historical_conn, as_of_date: date = DAY, seed: int = 5) -> SeededDay:
    rng = np.random.default_rng(seed)
    text = {"US": random_vectors(rng, 4, DIMENSION), "DE": random_vectors(rng, 3, DIMENSION)}
    regimes = {"US": random_vectors(rng, 1, DIMENSION)[0], "EU": random_vectors(rng, 1, DIMENSION)[0]}
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=as_of_date, vector=vector)
    for country, vectors in text.items():
        for index, vector in enumerate(vectors):
            insert_macro_event(historical_conn, timestamp=utc(as_of_date, 1 + 5 * index), vector=vector,
                               country=country)
    return SeededDay(
        as_of_date=as_of_date,
        params={"contexts": [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}]},
        expected={"US": expected_joint(regimes["US"], text["US"]), "EU": expected_joint(regimes["EU"], text["DE"])},
    )


@pytest.fixture
def seeded_day(runtime_conn, historical_conn) -> SeededDay:
    return seed_day(runtime_conn, historical_conn)


def insert_joint_row(historical_conn, entity_scope: dict, vector, as_of_date: date = DAY,
                     joint_type: str = "REGIME_MACRO_V0", model_id: str = "joint-regime-core-v1") -> None:
    """A row as a legacy tool left it (the table has no unique key, so duplicates are possible)."""
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " VALUES (%s, %s, %s, %s, %s)",
        (joint_type, as_of_date, psycopg.types.json.Jsonb(entity_scope), model_id,
         np.asarray(vector, dtype="<f4").tobytes()),
    )


def all_joint_rows(historical_conn) -> list[tuple]:
    """Every row of ``joint_embeddings`` (ids included), to compare before and after."""
    return historical_conn.execute(
        "SELECT joint_id, joint_type, as_of_date, entity_scope, model_id, vector, created_at"
        " FROM joint_embeddings ORDER BY joint_id"
    ).fetchall()


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT_TIMEOUT_SECONDS) -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class WriterProcess:
    """``python -m tests.reliability.writer`` in a process of its own."""

    def __init__(self, databases, as_of_date: date, params: dict, **options) -> None:
        command = [
            sys.executable, "-m", "tests.reliability.writer",
            "--runtime-dsn", databases.runtime_dsn, "--historical-dsn", databases.historical_dsn,
            "--as-of-date", as_of_date.isoformat(), "--params", json.dumps(params),
        ]
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

    def result(self, timeout: float = PROCESS_TIMEOUT_SECONDS) -> tuple[int, dict, str]:
        """Exit code, the JSON it printed, and its stderr; kills it if it does not finish in time."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"writer process {self.process.pid} did not finish within {timeout} s (deadlock?)")
        lines = stdout.strip().splitlines()
        return self.process.returncode, json.loads(lines[-1]) if lines else {}, stderr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def writers():
    """Start writer processes; whatever is still running at the end is killed by PID."""
    started: list[WriterProcess] = []

    def start(databases, as_of_date: date, params: dict, **options) -> WriterProcess:
        writer = WriterProcess(databases, as_of_date, params, **options)
        started.append(writer)
        return writer

    try:
        yield start
    finally:
        for writer in started:
            writer.stop()


def waiting_backends(conn, *, lock_type: str | None = None) -> list[tuple[int, str]]:
    """``(pid, query)`` of the other sessions of this database that wait for a lock (of ``lock_type``)."""
    return conn.execute(
        "SELECT a.pid, a.query FROM pg_stat_activity a"
        " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.wait_event_type = 'Lock'"
        "   AND (%(lock_type)s::text IS NULL OR EXISTS ("
        "        SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.locktype = %(lock_type)s))"
        " ORDER BY a.pid",
        {"lock_type": lock_type},
    ).fetchall()


PROBE_DAG_FILE = '''
"""Airflow DAGs of the reliability tests: the factory's DAG under other ids, with test-sized retry settings."""
import dataclasses
from datetime import timedelta

from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_MACRO_V0
{imports}
for dag_id in {dag_ids!r}:
    globals()[dag_id] = build_joint_context_dag(
        dataclasses.replace(REGIME_MACRO_V0, dag_id=dag_id), doc_md="reliability probe",
        retries={retries}, retry_delay=timedelta(0), {factory_arguments}
    )
'''


@pytest.fixture
def probe_dag(airflow_metadata_db, tmp_path, monkeypatch):
    """``probe_dag(dag_id, retries=3)``: the factory's DAG under ``dag_id`` with ``retry_delay=0`` (``imports``
    and ``factory_arguments``: Python source added to the DAG file's imports and to the factory's call).

    ``dag.test`` only runs DAGs it finds in a bundle, so the DAG is also written to a bundle of its own.
    """
    from airflow.configuration import conf

    def build(dag_id: str, retries: int = 3, imports: str = "", factory_arguments: str = ""):
        bundle = tmp_path / f"bundle_{dag_id}"
        bundle.mkdir()
        (bundle / f"{dag_id}.py").write_text(PROBE_DAG_FILE.format(
            dag_ids=[dag_id], retries=retries, imports=imports, factory_arguments=factory_arguments))
        bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))
        bundles = [b for b in bundles if b["name"] == "dags-folder"] + [{
            "name": f"reliability-{dag_id}", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(bundle), "refresh_interval": 0},
        }]
        monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        namespace: dict = {}
        exec(compile((bundle / f"{dag_id}.py").read_text(), str(bundle / f"{dag_id}.py"), "exec"), namespace)  # noqa: S102
        return namespace[dag_id]

    return build
