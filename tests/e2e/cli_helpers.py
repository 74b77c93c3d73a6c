"""Running the command line as a user does, and reading back what it left (for the CLI tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from devtools.paths import REPO_ROOT
from joint_context.cli import main

MACRO_DAG_ID = "joint_regime_macro_context"
NEWS_DAG_ID = "joint_regime_news_context"
MACRO_CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}]
D0 = date(2025, 3, 3)
MACRO_DATES = [D0 + timedelta(days=offset) for offset in range(5)]
CLI_TIMEOUT_SECONDS = 180
CONNECTION_VARIABLES = ("AIRFLOW_CONN_RUNTIME_DB", "AIRFLOW_CONN_HISTORICAL_DB", "JOINT_CONTEXT_RUNTIME_DSN",
                        "JOINT_CONTEXT_HISTORICAL_DSN")


def run_cli(*args: str, env: dict[str, str] | None = None, program: tuple[str, ...] | None = None
            ) -> subprocess.CompletedProcess:
    """``joint-context ...`` as a user runs it: the console script in its own process, connections from
    ``AIRFLOW_CONN_*`` (or the environment ``env`` given); ``program`` runs ``python <program>`` instead."""
    command = ([sys.executable, *program] if program is not None
               else [str(Path(sys.executable).parent / "joint-context")])
    return subprocess.run([*command, *args], env=os.environ if env is None else env, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_SECONDS, cwd=REPO_ROOT)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process: exit status, stdout, stderr (argparse's own errors exit through SystemExit)."""
    try:
        status = main(list(args))
    except SystemExit as exit_request:
        status = exit_request.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def stored_rows(historical_conn) -> list[tuple]:
    """Every joint row as ``(joint_type, as_of_date, entity_scope, model_id, vector bytes)``, in a fixed order."""
    return historical_conn.execute(
        "SELECT joint_type, as_of_date, entity_scope, model_id, vector FROM joint_embeddings"
        " ORDER BY joint_type, as_of_date, entity_scope::text, model_id, vector"
    ).fetchall()


def cosine(first, second) -> float:
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    return float(first @ second / (np.linalg.norm(first) * np.linalg.norm(second)))


def free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dsn_options(databases) -> tuple[str, ...]:
    return ("--runtime-dsn", databases.runtime_dsn, "--historical-dsn", databases.historical_dsn)


def environment_with(**variables: str) -> dict[str, str]:
    """This process's environment with no database connection variable but the ones given."""
    return {**{key: value for key, value in os.environ.items() if key not in CONNECTION_VARIABLES}, **variables}
