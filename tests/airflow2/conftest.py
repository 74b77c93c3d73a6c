"""Airflow 2.11 as users run it: the ``airflow`` command of ``.venv-airflow2`` on the same ``dags/`` and ``plugins/``.

Every Airflow 2.11 command runs as a subprocess with an Airflow home of its own (SQLite metadata database,
SequentialExecutor), the session's PostgreSQL databases as ``AIRFLOW_CONN_*``, and no ``PYTHONPATH``: Airflow
itself puts ``dags/`` and ``plugins/`` on ``sys.path``, as in a deployment. Each command runs through
``devtools.airflow.processes.run_bounded``, the harness of the Airflow 3 stack too: its own process group, bounded
by a timeout, the group killed when the command ends or times out.

A missing or outdated ``.venv-airflow2`` fails these tests with the command that builds it; they never skip.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import airflow2 as airflow2_env
from devtools.airflow import processes
from devtools.paths import REPO_ROOT

MIGRATE_TIMEOUT_SECONDS = 300
PROBE_SCRIPT = Path(__file__).with_name("airflow2_probe.py")


@dataclass
class CommandResult:
    command: list[str]
    returncode: int
    output: str

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run_bounded(command: list[str], *, env: dict[str, str], timeout: float) -> CommandResult:
    """Run ``command`` with the shared harness (its own process group, killed by group when it ends or after
    ``timeout`` s); a time-out fails the test with the end of its output."""
    try:
        completed = processes.run_bounded(command, env=env, cwd=REPO_ROOT, timeout=timeout)
    except processes.CommandTimedOut as timed_out:
        pytest.fail(str(timed_out), pytrace=False)
    return CommandResult(command, completed.returncode, completed.stdout)


class Airflow2:
    """The Airflow 2.11 command line on ``dags/`` and ``plugins/``, with a home and metadata DB of its own."""

    def __init__(self, venv: Path, home: Path, connection_env: dict[str, str]) -> None:
        self.venv = venv
        self.home = home
        self.metadata_path = home / "airflow.db"
        inherited = {
            key: value for key, value in os.environ.items()
            if not key.startswith("AIRFLOW") and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        }
        self.env = {
            **inherited,
            **connection_env,
            "PATH": f"{airflow2_env.venv_bin(venv)}{os.pathsep}{inherited.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.metadata_path}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "PYTHONWARNINGS": "ignore",
        }

    def airflow(self, *args: str, timeout: float) -> CommandResult:
        return run_bounded([str(airflow2_env.venv_bin(self.venv) / "airflow"), *args], env=self.env, timeout=timeout)

    def python_module(self, module: str, *args: str, timeout: float) -> CommandResult:
        """``python -m module args`` with Airflow 2.11's interpreter (the package is installed in its venv)."""
        return run_bounded([str(airflow2_env.venv_bin(self.venv) / "python"), "-m", module, *args],
                           env=self.env, timeout=timeout)

    def probe(self, timeout: float = 120) -> dict:
        """What ``dags/`` looks like to Airflow 2.11 (see ``airflow2_probe.py``), as a dict."""
        result = run_bounded([str(airflow2_env.venv_bin(self.venv) / "python"), str(PROBE_SCRIPT)],
                             env=self.env, timeout=timeout)
        assert result.returncode == 0, result.tail()
        return json.loads(result.output.strip().splitlines()[-1])

    def metadata(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of Airflow 2.11's own metadata database (dag runs, task instances), read directly."""
        with sqlite3.connect(self.metadata_path) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="session")
def airflow2_venv() -> Path:
    """``.venv-airflow2``, built from ``requirements-airflow2.txt``; fails (never skips) when it is not ready."""
    problem = airflow2_env.problem_with(airflow2_env.DEFAULT_VENV)
    if problem:
        pytest.fail(f"Airflow 2.11 environment not ready: {problem}; {airflow2_env.how_to_build()}", pytrace=False)
    return airflow2_env.DEFAULT_VENV


@pytest.fixture(scope="session")
def airflow2(airflow2_venv, databases, tmp_path_factory) -> Airflow2:
    """Airflow 2.11 with a migrated SQLite metadata database, pointed at the session's PostgreSQL databases."""
    airflow = Airflow2(airflow2_venv, tmp_path_factory.mktemp("airflow2-home"), databases.connection_env)
    result = airflow.airflow("db", "migrate", timeout=MIGRATE_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.tail()
    return airflow
