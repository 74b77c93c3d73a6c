"""Reading an Airflow 3 metadata database: dag runs, task instances, backfills, and bounded waits on them.

:class:`MetadataQueries` needs only ``metadata_dsn``; :class:`~devtools.airflow.stack.AirflowStack` inherits it and
overrides :meth:`MetadataQueries.check_alive` (a wait fails as soon as a process of the stack has died) and
:meth:`MetadataQueries.log_tails` (a wait that times out says what the logs said).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

FINAL_RUN_STATES = frozenset({"success", "failed"})


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


class MetadataQueries:
    """Queries and waits on the metadata database at ``self.metadata_dsn``."""

    metadata_dsn: str

    def check_alive(self) -> None:
        """Raise if what writes the metadata database has stopped (nothing to check here)."""

    def log_tails(self, names: Iterable[str] | None = None, lines: int = 40) -> str:
        """What to show when a wait times out (nothing here)."""
        return ""

    # -- queries -------------------------------------------------------------------------------------------

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

    def latest_backfill_id(self, dag_id: str) -> int | None:
        rows = self.query("SELECT max(id) AS id FROM backfill WHERE dag_id = %(dag_id)s", {"dag_id": dag_id})
        return rows[0]["id"]

    def backfill_runs(self, dag_id: str, backfill_id: int) -> list[DagRunRecord]:
        """The dag runs a backfill created or cleared (a rerun reuses the run of an already-run date)."""
        run_ids = {
            row["run_id"] for row in self.query(
                "SELECT dr.run_id FROM backfill_dag_run bdr JOIN dag_run dr ON dr.id = bdr.dag_run_id"
                " WHERE bdr.backfill_id = %(id)s", {"id": backfill_id})
        }
        return [run for run in self.dag_runs(dag_id) if run.run_id in run_ids]

    # -- waiting -------------------------------------------------------------------------------------------

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float, interval: float = 1.0) -> None:
        """Until ``condition()`` is true; raises ``TimeoutError`` (with the log tails) after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if condition():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}\n{self.log_tails()}")
            time.sleep(interval)

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


def _json_value(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
