"""Databases broken the ways production ones are (read-only, schema drift, an exhausted sequence), then mended:
errors no retry can fix, for the command-line and DAG tests of their handling."""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql

# breakage: (SQL that breaks the database, SQL that mends it, SQLSTATE, what the message must tell the user)
BREAKAGES = {
    "read-only database": ("ALTER DATABASE {database} SET default_transaction_read_only = on",
                           "ALTER DATABASE {database} RESET default_transaction_read_only", "25006", "read-only"),
    "an extra NOT NULL column": ("ALTER TABLE joint_embeddings ADD COLUMN test_extra text NOT NULL",
                                 "ALTER TABLE joint_embeddings DROP COLUMN test_extra", "23502", "NOT NULL column"),
    "an exhausted sequence": ("ALTER SEQUENCE joint_embeddings_joint_id_seq MAXVALUE 2; "
                              "SELECT setval('joint_embeddings_joint_id_seq', 2)",
                              "ALTER SEQUENCE joint_embeddings_joint_id_seq NO MAXVALUE", "2200H",
                              "sequence reached its maximum"),
    "a json column, not jsonb": ("ALTER TABLE joint_embeddings ALTER COLUMN entity_scope TYPE json "
                                 "USING entity_scope::json",
                                 "ALTER TABLE joint_embeddings ALTER COLUMN entity_scope TYPE jsonb "
                                 "USING entity_scope::jsonb", "42883", "another type than the schema's"),
    "a missing column": ("ALTER TABLE joint_embeddings RENAME COLUMN vector TO vector_gone",
                         "ALTER TABLE joint_embeddings RENAME COLUMN vector_gone TO vector", "42703",
                         "column the package reads or writes is missing"),
}


@contextlib.contextmanager
def broken(databases, breakage: str):
    """The historical database broken as ``breakage`` says, mended afterwards whatever happens."""
    breaking, mending, _sqlstate, _fix = BREAKAGES[breakage]
    with psycopg.connect(databases.historical_dsn, autocommit=True) as admin:
        database = sql.Identifier(databases.historical_name).as_string(admin)
        admin.execute(breaking.format(database=database))
        try:
            yield
        finally:
            admin.execute(mending.format(database=database))
