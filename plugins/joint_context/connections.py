"""Opening the two databases: through an Airflow connection id, or straight from a libpq connection string.

No Airflow import at module level: ``PostgresHook`` is imported only when an Airflow connection is opened,
so the command line run with DSNs never loads Airflow. The operators import :func:`connection` from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

RUNTIME_CONN_ID = "runtime_db"
HISTORICAL_CONN_ID = "historical_db"


def _with_statement_timeout(db_connection, statement_timeout: timedelta | None):
    if statement_timeout is not None:
        from joint_context.store import set_statement_timeout

        set_statement_timeout(db_connection, statement_timeout)
    return db_connection


@contextlib.contextmanager
def connection(conn_id: str, statement_timeout: timedelta | None = None) -> Iterator:
    """A DB-API connection from an Airflow connection (``AIRFLOW_CONN_*`` or the metadata DB), closed after.

    With ``statement_timeout`` the server cancels any statement running longer (overriding the connection's own).
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    db_connection = PostgresHook(postgres_conn_id=conn_id).get_conn()
    try:
        yield _with_statement_timeout(db_connection, statement_timeout)
    finally:
        db_connection.close()


def _driver():
    """psycopg 3 if installed (Airflow 3's postgres provider), else psycopg2 (Airflow 2.11's)."""
    try:
        import psycopg
    except ImportError:
        import psycopg2

        return psycopg2
    return psycopg


def dsn_parts(dsn: str) -> dict[str, str]:
    """The options of a libpq connection string or URI; raises the driver's ``ProgrammingError`` if it is not one."""
    driver = _driver()
    if driver.__name__ == "psycopg":
        from psycopg.conninfo import conninfo_to_dict

        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    from psycopg2.extensions import parse_dsn

    return parse_dsn(dsn)


@contextlib.contextmanager
def dsn_connection(dsn: str, statement_timeout: timedelta | None = None) -> Iterator:
    """A plain DB-API connection (psycopg 3, else psycopg2) from a libpq connection string or URI, closed after.

    The connection is not in autocommit mode, as the Airflow hook's is not: the caller commits. With
    ``statement_timeout`` the server cancels any statement running longer (overriding the connection's own).
    """
    db_connection = _driver().connect(dsn)
    try:
        yield _with_statement_timeout(db_connection, statement_timeout)
    finally:
        db_connection.close()
