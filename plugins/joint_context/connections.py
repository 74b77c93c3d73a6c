"""Opening the two databases: through an Airflow connection id, or straight from a libpq connection string.

No Airflow import at module level: ``PostgresHook`` is imported only when an Airflow connection is opened, so
the command line run with DSNs never loads Airflow. The operators import :func:`connection` from here; the
command line resolves its options to a :class:`Database` with :func:`resolve_database`. DSNs are checked and kept
out of every message by :mod:`joint_context.dsn`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from joint_context.dsn import Dsn, DsnError, parse_dsn, scrub

RUNTIME_CONN_ID = "runtime_db"
HISTORICAL_CONN_ID = "historical_db"
RUNTIME_DSN_VARIABLE = "JOINT_CONTEXT_RUNTIME_DSN"
HISTORICAL_DSN_VARIABLE = "JOINT_CONTEXT_HISTORICAL_DSN"
DATABASE_ROLES = {  # role: (default Airflow conn id, DSN environment variable)
    "runtime": (RUNTIME_CONN_ID, RUNTIME_DSN_VARIABLE),
    "historical": (HISTORICAL_CONN_ID, HISTORICAL_DSN_VARIABLE),
}
DATABASE_DRIVERS = ("psycopg", "psycopg2")
DEFAULT_STATEMENT_TIMEOUT = timedelta(minutes=10)  # every front door's: a pathological query fails, not hangs
# SQLSTATEs a retry can outlive: no server answer at all (None), connection exceptions, insufficient resources,
# operator intervention (shutdown, statement timeout or cancel), system errors; and serialization failures,
# deadlocks, locks not available. Anything else the server says is about the schema, the grants, the data or the
# mode of the database (undefined column, insufficient privilege, read-only, NOT NULL, datatype, exhausted sequence):
# retrying cannot fix it.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "55006"})
WHAT_TO_FIX = {  # SQLSTATE or class: what the database needs before a rerun can succeed
    "25006": "the database is read-only (a standby, or default_transaction_read_only): point the connection at a "
             "writable primary",
    "42501": "the role lacks a grant: apply include/sql/roles.sql (docs/security-and-roles.md)",
    "42703": "a column the package reads or writes is missing: the tables must have the schema of include/sql/schema",
    "42P01": "a table the package uses is missing: create it from include/sql/schema",
    "42883": "a column has another type than the schema's (e.g. entity_scope json instead of jsonb): see "
             "include/sql/schema",
    "42804": "a column has another type than the schema's: see include/sql/schema",
    "23502": "a NOT NULL column the package does not fill: give it a default or drop the constraint",
    "2200H": "a sequence reached its maximum: extend it (ALTER SEQUENCE ... MAXVALUE / AS bigint)",
    "23": "a constraint of the table refuses the row: the package writes the schema of include/sql/schema",
    "22": "the database refuses a value: the package writes the schema of include/sql/schema",
    "28": "the login was refused: check the connection's user and password",
    "3D": "the database does not exist: check the connection's database name",
}


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


@dataclass(frozen=True)
class Database:
    """How a command reaches one database: an Airflow connection id, or a checked libpq DSN.

    ``label`` names it in messages: the conn id, or the DSN's database name, never the DSN itself.
    """

    label: str
    conn_id: str | None = None
    dsn: Dsn | None = None

    def open(self, statement_timeout: timedelta | None = None):
        """A context manager yielding a DB-API connection, closed after."""
        if self.dsn is not None:
            return dsn_connection(self.dsn.text, statement_timeout)
        return connection(self.conn_id, statement_timeout)


def resolve_database(role: str, *, conn_id: str | None, dsn: str | None, environ: Mapping[str, str]) -> Database:
    """The database of ``role`` (``runtime`` / ``historical``): the DSN option, the conn id option,
    ``$JOINT_CONTEXT_<ROLE>_DSN``, or the default Airflow connection, in that order.

    :raises DsnError: the DSN given cannot be used (the message holds nothing of it).
    """
    default_conn_id, variable = DATABASE_ROLES[role]
    source = f"--{role}-dsn"
    if dsn is None and conn_id is None:
        dsn, source = environ.get(variable) or None, variable
    if dsn is None:
        return Database(label=conn_id or default_conn_id, conn_id=conn_id or default_conn_id)
    checked = parse_dsn(dsn, source)
    return Database(label=checked.dbname or f"the database of {source}", dsn=checked)


def is_database_error(error: BaseException) -> bool:
    """A DB-API error of psycopg 3 or psycopg2, or an Airflow connection that is not defined."""
    return any(
        cls.__module__.split(".")[0] in DATABASE_DRIVERS or cls.__name__ == "AirflowNotFoundException"
        for cls in type(error).__mro__
    )


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE the server sent with the error (psycopg 3 ``sqlstate``, psycopg2 ``pgcode``), if any."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def is_transient(error: BaseException) -> bool:
    """Whether a database error may go away by itself (retry it) or needs the database fixed (fail at once).

    An undefined Airflow connection is permanent; an error without SQLSTATE (refused, reset, no answer) transient.
    """
    if type(error).__name__ == "AirflowNotFoundException":
        return False
    sqlstate = sqlstate_of(error)
    return sqlstate is None or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES


def what_to_fix(error: BaseException) -> str:
    """What the database needs before a rerun can succeed, for a permanent error ("" when nothing is known)."""
    sqlstate = sqlstate_of(error) or ""
    return WHAT_TO_FIX.get(sqlstate) or WHAT_TO_FIX.get(sqlstate[:2], "")


def describe_database_error(error: BaseException, dsns: Iterable[Dsn] = ()) -> str:
    """One line for a database or connection error, with nothing of the DSNs' user info in it."""
    if type(error).__name__ == "AirflowNotFoundException":
        return (f"connection error: {error}; define it as an Airflow connection, e.g. the environment variable "
                "AIRFLOW_CONN_<CONN_ID_IN_UPPER_CASE> holding its JSON or URI, or `airflow connections add`, "
                "or give a libpq DSN instead (--runtime-dsn / --historical-dsn)")
    sqlstate = sqlstate_of(error)
    code = f", SQLSTATE {sqlstate}" if sqlstate else ""
    return scrub(f"database error ({type(error).__name__}{code}): {str(error).strip()}", dsns)


__all__ = [
    "DATABASE_ROLES", "HISTORICAL_CONN_ID", "RUNTIME_CONN_ID", "Database", "DsnError", "connection",
    "describe_database_error", "dsn_connection", "dsn_parts", "is_database_error", "is_transient",
    "resolve_database", "sqlstate_of", "what_to_fix",
]
