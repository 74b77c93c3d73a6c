"""Security: values are never SQL, servers listen on loopback only, no credential in the repo or the task logs,
and the package works under exactly the least-privilege grants of ``include/sql/roles.sql``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from devtools import localdb
from joint_context.operators import ExtractJointInputsOperator, WriteJointEmbeddingsOperator
from joint_context.spaces import SPACES, joint_lock_key
from joint_context.store import sql_files
from tests.helpers import joint_rows
from tests.reliability.conftest import DAY, REPO_ROOT, insert_joint_row, scope, seed_day, wait_until, waiting_backends

PLUGIN_DIR = REPO_ROOT / "plugins" / "joint_context"
SQL_DIR = Path(str(sql_files()))  # the package's query files
ROLES_SQL = REPO_ROOT / "include" / "sql" / "roles.sql"
HOSTILE = "US' OR '1'='1"


# --- no SQL built from values -------------------------------------------------------------------------------------

def query_calls(tree: ast.AST):
    """Every ``<something>.execute/executemany/copy/mogrify/stream(...)`` call except ``super().execute(context)``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "copy", "mogrify", "stream")
                and not (isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", "") == "super")):
            yield node


def is_read_sql_of_a_file(node: ast.AST) -> bool:
    """``read_sql("file.sql")`` or ``read_sql(space.text_sql / text_copy_sql)``: a query file of the package."""
    return (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "read_sql" and len(node.args) == 1
            and ((isinstance(node.args[0], ast.Constant) and (SQL_DIR / node.args[0].value).is_file())
                 or (isinstance(node.args[0], ast.Attribute) and node.args[0].attr in ("text_sql", "text_copy_sql"))))


def test_every_query_of_the_package_is_a_sql_file_run_with_separate_parameters():
    modules = sorted(PLUGIN_DIR.rglob("*.py"))
    assert {"store.py", "extract.py", "operators.py"} <= {module.name for module in modules}
    offending = []
    for module in modules:
        tree = ast.parse(module.read_text())
        offending += [f"{module.name}:{call.lineno}" for call in query_calls(tree)
                      if not call.args or not is_read_sql_of_a_file(call.args[0])]
        # no query text is composed in Python: no psycopg.sql, no SQL keywords in f-strings or %-formatting
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr | ast.BinOp) and re.search(
                    r"\b(SELECT|INSERT|DELETE|UPDATE)\b.*\b(FROM|INTO|WHERE|SET)\b", ast.unparse(node)):
                offending.append(f"{module.name}:{node.lineno} builds SQL text")
            if isinstance(node, ast.ImportFrom) and node.module == "psycopg" and "sql" in {a.name for a in node.names}:
                offending.append(f"{module.name}:{node.lineno} imports psycopg.sql")
    assert offending == []
    assert {space.text_sql for space in SPACES.values()} <= {path.name for path in SQL_DIR.glob("*.sql")}


def sql_tokens(path) -> list[str]:
    text = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
    return text.split()


@pytest.mark.parametrize("space", SPACES.values(), ids=lambda space: space.joint_type)
def test_the_bulk_copy_runs_exactly_the_text_query_the_dag_runs(space):
    copy_tokens, select_tokens = sql_tokens(SQL_DIR / space.text_copy_sql), sql_tokens(SQL_DIR / space.text_sql)
    assert copy_tokens == ["COPY", "(", *select_tokens, ")", "TO", "STDOUT", "(FORMAT", "BINARY)"]


def test_query_files_take_values_only_through_named_placeholders():
    for path in sorted(SQL_DIR.glob("*.sql")):
        text = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
        placeholders = re.findall(r"%\(\w+\)s", text)
        leftovers = re.sub(r"%\(\w+\)s", "", text)
        assert "%" not in leftovers and "{" not in leftovers, f"{path.name}: a placeholder that is not %(name)s"
        assert not re.search(r"'[^']*%\(\w+\)s[^']*'", text), f"{path.name}: a placeholder inside a string literal"
        assert path.name == "roles.sql" or placeholders, f"{path.name}: takes no values"


def blocked_query_text(historical_dsn: str, run, block_sql: str, block_params=()) -> tuple[str, list]:
    """Run ``run()`` in a thread while another transaction holds a lock; return the query the server is executing.

    What ``pg_stat_activity`` shows is what the driver sent: bound parameters appear as ``$n``.
    """
    errors: list = []

    def target():
        try:
            run()
        except Exception as error:  # the test asserts on it
            errors.append(error)

    with psycopg.connect(historical_dsn) as holder, psycopg.connect(historical_dsn, autocommit=True) as observer:
        holder.execute("SET idle_in_transaction_session_timeout = '30s'")
        holder.execute(block_sql, block_params)
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        ((_, query),) = wait_until(lambda: waiting_backends(observer), "the package's query to block")
        holder.rollback()
        thread.join(timeout=60)
        assert not thread.is_alive()
    return query, errors


def test_filter_values_reach_the_server_as_bind_parameters_in_the_text_read(clean_databases, runtime_conn,
                                                                            historical_conn):
    seed_day(runtime_conn, historical_conn)
    extract = ExtractJointInputsOperator(task_id="extract", space=SPACES["REGIME_MACRO_V0"], as_of_date=DAY.isoformat())
    params = {"contexts": [{"region": HOSTILE, "country": HOSTILE, "event_type": "CPI'--"}]}
    query, errors = blocked_query_text(
        clean_databases.historical_dsn, lambda: extract.execute({"params": params, "dag_run": None}),
        "LOCK TABLE macro_events IN ACCESS EXCLUSIVE MODE")
    assert errors == []
    assert "FROM macro_events" in query and "$1" in query
    assert HOSTILE not in query and "CPI" not in query and "%(" not in query


def test_scope_values_reach_the_server_as_bind_parameters_in_the_write(clean_databases, historical_conn):
    hostile_scope = scope(HOSTILE, country=HOSTILE)
    insert_joint_row(historical_conn, hostile_scope, np.ones(2))
    write = WriteJointEmbeddingsOperator(
        task_id="write", space=SPACES["REGIME_MACRO_V0"],
        aggregated={"as_of_date": DAY.isoformat(), "results": [{
            "entity_scope": hostile_scope, "description": "hostile", "regime_record_id": "r", "text_vector_count": 1,
            "text_null_count": 0, "vector": [1.0, 2.0], "skip_reason": None}]},
    )
    params = {"contexts": [{"region": HOSTILE, "country": HOSTILE}]}
    query, errors = blocked_query_text(
        clean_databases.historical_dsn, lambda: write.execute({"params": params, "dag_run": None}),
        "SELECT 1 FROM joint_embeddings FOR UPDATE")
    assert errors == []
    # the keys arrive as two bound arrays (dates, scopes), unnested by the server
    assert "DELETE FROM joint_embeddings" in query and "unnest($1::date[], $2::text[]::jsonb[], $3::int[])" in query
    assert "OR '1'='1" not in query and "regime+macro" not in query
    ((stored_scope, vector),) = historical_conn.execute("SELECT entity_scope, vector FROM joint_embeddings").fetchall()
    assert stored_scope == hostile_scope and np.frombuffer(vector, "<f4").tolist() == [1.0, 2.0]
    assert joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", DAY, hostile_scope)  # a number, not text


# --- loopback only, no credentials -------------------------------------------------------------------------------

def test_the_embedded_server_of_the_demo_and_tests_has_no_tcp_listener(tmp_path):
    server = localdb.start_embedded_server(tmp_path / "pgdata", cleanup_mode="delete")
    try:
        uri = server.get_uri()
        with psycopg.connect(uri) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
            assert conn.info.host.startswith("/"), "reached through a Unix socket"
    finally:
        server.cleanup()


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    paths = [REPO_ROOT / name for name in names.splitlines()]
    return [path for path in paths if path.is_file() and b"\0" not in path.read_bytes()[:4096]]


ANY_INTERFACE = re.compile(r"""0\.0\.0\.0|(host|bind|listen)\w*["']?\s*[=:,]\s*["'](::|\*)["']""", re.I)


def test_servers_started_by_the_demo_tests_and_benchmark_bind_loopback_only():
    this_file = Path(__file__).resolve()
    offending = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in tracked_text_files()
        if path.suffix == ".py" and path.resolve() != this_file
        and path.relative_to(REPO_ROOT).parts[0] in ("devtools", "tests", "bench")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ANY_INTERFACE.search(line)
    ]
    assert offending == []


# An Airflow server started as ["<command>", ...] (a list literal, not a subscript like processes["api-server"])
# and what keeps it off other interfaces.
ARGV = r"""(?<![\w\]\)])\[\s*"""
SPAWNS = {
    re.compile(ARGV + r"""["']api-server["']"""): re.compile(r"""["']--host["'],\s*["']127\.0\.0\.1["']"""),
    re.compile(ARGV + r"""["'](scheduler|triggerer)["']|["']celery["'],\s*["']worker["']"""):
        re.compile(r"""["']--skip-serve-logs["']"""),  # the log server would listen on every interface
}


def test_airflow_servers_started_by_the_tests_listen_on_loopback_only():
    spawns = [
        (path.relative_to(REPO_ROOT), line)
        for path in tracked_text_files()
        if path.suffix == ".py" and path.relative_to(REPO_ROOT).parts[0] in ("devtools", "tests", "bench")
        for line in path.read_text().splitlines()
        if any(command.search(line) for command in SPAWNS)
    ]
    assert any("api-server" in line for _path, line in spawns)  # the pattern still finds the real spawns
    offending = [(path, line.strip()) for path, line in spawns
                 if not all(guard.search(line) for command, guard in SPAWNS.items() if command.search(line))]
    assert offending == []


PLACEHOLDER = re.compile(r"^(\$\{[^}]*\}|\$\w+|\{\w+\}|\.\.\.|\*+|<[^>]*>|:'\w+'|changeme|change-me|example|)$", re.I)
SECRET_PATTERNS = [
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<value>[^@\s/'\"]+)@", re.I),  # scheme://user:secret@
    re.compile(r"password[\"']?\s*(=|:(?!'))\s*[\"'](?P<value>[^\"']*)[\"']", re.I),  # "password": "secret"
    re.compile(r"^[ \t]*(export[ \t]+)?[A-Z_]*PASSWORD[ \t]*=[ \t]*(?P<value>[^\s#'\"]*)", re.M),  # PASSWORD=secret
    re.compile(r"\bPASSWORD\s+'(?P<value>[^']+)'", re.I),  # SQL: PASSWORD 'secret'
]


def secrets_in(text: str) -> list[str]:
    return [match.group(0) for pattern in SECRET_PATTERNS for match in pattern.finditer(text)
            if not PLACEHOLDER.match(match.group("value"))]


@pytest.mark.parametrize("committed", [
    "postgresql://joint:hunter2@db.internal/historical_db", '{"login": "joint", "password": "hunter2"}',
    "export PGPASSWORD=hunter2", "CREATE ROLE joint LOGIN PASSWORD 'hunter2';",
])
def test_the_credential_scan_finds_a_committed_password(committed):
    assert secrets_in(committed)


def test_no_credential_is_committed():
    this_file = Path(__file__).resolve()  # holds the scan's own probes
    found = [f"{path.relative_to(REPO_ROOT)}: {secret[:60]}"
             for path in tracked_text_files() if path.resolve() != this_file
             for secret in secrets_in(path.read_text(errors="replace"))]
    assert found == []


# --- least-privilege roles -----------------------------------------------------------------------------------------

def apply_roles_template(admin_dsn: str, variables: dict[str, str]) -> None:
    """Run ``include/sql/roles.sql`` as psql would with ``-v name=value`` for each variable."""
    preamble, *sections = re.split(r'^\\connect :"(\w+)"\s*$', ROLES_SQL.read_text(), flags=re.M)
    targets = [(admin_dsn, preamble)] + [
        (localdb.dsn_for(admin_dsn, variables[name]), body) for name, body in zip(sections[::2], sections[1::2],
                                                                                 strict=True)]
    for dsn, body in targets:
        if not re.sub(r"--[^\n]*", "", body).strip():
            continue  # only comments (the header): nothing to run
        with psycopg.connect(dsn, autocommit=True) as conn:
            text = re.sub(r':"(\w+)"', lambda m: sql.Identifier(variables[m.group(1)]).as_string(conn), body)
            text = re.sub(r":'(\w+)'", lambda m: sql.Literal(variables[m.group(1)]).as_string(conn), text)
            conn.execute(text)


@pytest.fixture
def least_privilege_roles(databases):
    """Two login roles (unique names, passwords) granted by the template; dropped afterwards with their grants."""
    suffix = uuid.uuid4().hex[:8]
    roles = {"runtime_reader": f"jc_reader_{suffix}", "historical_writer": f"jc_writer_{suffix}"}
    passwords = {role: f"pw-{secrets.token_urlsafe(18)}" for role in roles.values()}
    variables = {"runtime_db": databases.runtime_name, "historical_db": databases.historical_name, **roles}
    try:
        with psycopg.connect(databases.admin_dsn, autocommit=True) as admin:  # the template only grants
            for role, password in passwords.items():
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                                sql.Literal(password)))
        apply_roles_template(databases.admin_dsn, variables)
        yield roles, passwords
    finally:
        for name in (databases.runtime_name, databases.historical_name):
            with psycopg.connect(localdb.dsn_for(databases.admin_dsn, name), autocommit=True) as conn:
                for role in roles.values():
                    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(databases.admin_dsn, autocommit=True) as admin:
            for role in roles.values():
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def connection_as(dsn: str, role: str, password: str) -> str:
    return localdb.airflow_connection_json(psycopg.conninfo.make_conninfo(dsn, user=role, password=password))


def test_the_dag_runs_as_the_least_privilege_roles_and_its_logs_hold_no_password(
    clean_databases, airflow_metadata_db, runtime_conn, historical_conn, least_privilege_roles
):
    roles, passwords = least_privilege_roles
    seeded = seed_day(runtime_conn, historical_conn)
    reader, writer = roles["runtime_reader"], roles["historical_writer"]
    environment = {
        **os.environ,
        "AIRFLOW_CONN_RUNTIME_DB": connection_as(clean_databases.runtime_dsn, reader, passwords[reader]),
        "AIRFLOW_CONN_HISTORICAL_DB": connection_as(clean_databases.historical_dsn, writer, passwords[writer]),
    }
    assert passwords[reader] in environment["AIRFLOW_CONN_RUNTIME_DB"]
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "joint_regime_macro_context", "2025-01-02T00:00:00+00:00",
         "--conf", json.dumps(seeded.params)],
        env=environment, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]

    rows = {row[2]["region"]: row[4] for row in joint_rows(historical_conn)}
    assert sorted(rows) == ["EU", "US"]
    np.testing.assert_allclose(rows["US"], seeded.expected["US"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows["EU"], seeded.expected["EU"], rtol=1e-6, atol=1e-7)

    log_files = [path for path in Path(os.environ["AIRFLOW_HOME"]).rglob("*") if path.is_file()
                 and path.suffix in (".log", ".json", "") and path.stat().st_size < 50_000_000]
    logs = output + "".join(path.read_text(errors="replace") for path in log_files)
    assert "2 written" in logs, "the task logs were not found"
    for password in passwords.values():
        assert password not in logs


def test_the_least_privilege_roles_cannot_change_inputs_schema_or_other_rows(clean_databases, least_privilege_roles):
    roles, passwords = least_privilege_roles
    reader, writer = roles["runtime_reader"], roles["historical_writer"]
    as_reader = psycopg.conninfo.make_conninfo(clean_databases.runtime_dsn, user=reader, password=passwords[reader])
    as_writer = psycopg.conninfo.make_conninfo(clean_databases.historical_dsn, user=writer,
                                               password=passwords[writer])
    writer_on_runtime = psycopg.conninfo.make_conninfo(clean_databases.runtime_dsn, user=writer,
                                                       password=passwords[writer])
    refused = {
        as_reader: [
            "INSERT INTO regimes (regime_record_id, as_of_date, region, regime_label, confidence)"
            " VALUES ('x', '2025-01-02', 'US', 'X', 1)",
            "UPDATE regimes SET confidence = 0", "DELETE FROM regimes", "CREATE TABLE public.jc_probe (x int)",
        ],
        as_writer: [
            "INSERT INTO text_embeddings (source_type, source_id, model_id) VALUES ('MACRO', 'x', 'm')",
            "UPDATE macro_events SET country = 'US'", "DELETE FROM news_articles", "DELETE FROM text_embeddings",
            "UPDATE joint_embeddings SET vector = NULL", "TRUNCATE joint_embeddings",
            "ALTER TABLE joint_embeddings ADD COLUMN x int", "CREATE TABLE public.jc_probe (x int)",
        ],
        writer_on_runtime: ["SELECT * FROM regimes"],
    }
    for dsn, statements in refused.items():
        for statement in statements:
            with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(as_reader) as conn:
        assert conn.execute("SELECT count(*) FROM regimes").fetchone() == (0,)
