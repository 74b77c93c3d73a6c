"""No part of a DSN's user info reaches any output: the CLI's options, its ``JOINT_CONTEXT_*_DSN`` variables, the
DAG's task logs. Property-based: whatever the password (``@ : / % ?``, quotes, one character), what the command
prints is one of a few fixed texts that do not depend on it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import string
import subprocess
import sys
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joint_context.cli import main

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "@:/%?#!&=' \"\\"
PASSWORD_SAMPLE_THAT_PARSES = secrets.token_urlsafe(12)  # a well-formed password, new each session
DSN_VARIABLES = ("JOINT_CONTEXT_RUNTIME_DSN", "JOINT_CONTEXT_HISTORICAL_DSN")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = closed_port()  # nothing listens there: every connection is refused at once, with the same message


def keyword_value(value: str) -> str:
    """``value`` as a single-quoted libpq keyword value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


DSN_FORMS = {
    "uri as typed": lambda password: f"postgresql://bob:{password}@127.0.0.1:{PORT}/jc_secret_db",
    "uri percent-encoded": lambda password: (f"postgresql://bob:{quote(password, safe='')}@127.0.0.1:{PORT}"
                                             "/jc_secret_db"),
    "keyword=value": lambda password: (f"host=127.0.0.1 port={PORT} dbname=jc_secret_db user=bob "
                                       f"password={keyword_value(password)}"),
}
COMMANDS = {
    "show": ["show", "--date-range", "2025-01-01", "2025-01-02"],
    "backfill": ["backfill", "--region", "US", "--no-progress", "--date-range", "2025-01-01", "2025-01-02"],
    "similar": ["similar", "--region", "US", "--date", "2025-01-02"],
}


@contextlib.contextmanager
def dsn_variables(dsn: str | None):
    """Both ``JOINT_CONTEXT_*_DSN`` variables set to ``dsn`` (or unset), restored afterwards."""
    saved = {name: os.environ.get(name) for name in DSN_VARIABLES}
    try:
        for name in DSN_VARIABLES:
            if dsn is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = dsn
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cli_output(capsys, command: str, dsn: str, channel: str) -> tuple[int, str]:
    """Exit status and everything the command printed, given the DSN by option or by variable."""
    args = list(COMMANDS[command])
    if channel == "option":
        roles = ("historical",) if command in ("show", "similar") else ("runtime", "historical")
        for role in roles:
            args += [f"--{role}-dsn", dsn]
    with dsn_variables(dsn if channel == "variable" else None):
        status = main(args)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def allowed_outputs(capsys, command: str, form: str, channel: str) -> set[tuple[int, str]]:
    """What the command may print for any password: the refused connection of a well-formed DSN, or one of the
    fixed refusals of a DSN whose structure is broken (computed from passwords that break it on purpose)."""
    return {cli_output(capsys, command, DSN_FORMS[form](password), channel)
            for password in (PASSWORD_SAMPLE_THAT_PARSES, "x@y", "x/y", "x%zz", "x y'", "x%A0")}


@pytest.mark.parametrize("channel", ["option", "variable"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("form", sorted(DSN_FORMS))
def test_what_the_cli_prints_does_not_depend_on_the_password(capsys, form, command, channel):
    allowed = allowed_outputs(capsys, command, form, channel)
    assert all(status in (2, 3) for status, _text in allowed)
    assert all(PASSWORD_SAMPLE_THAT_PARSES not in text and "x%zz" not in text for _status, text in allowed)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(password=st.text(alphabet=PASSWORD_ALPHABET, min_size=1, max_size=16))
    def printed_for(password):
        # one of the fixed texts: nothing printed depends on the password (a substring search could not prove
        # that: hypothesis finds passwords like "filter" that the fixed texts hold anyway)
        status, text = cli_output(capsys, command, DSN_FORMS[form](password), channel)
        assert (status, text) in allowed, text

    printed_for()


@pytest.mark.parametrize("password", ["p@ss@w0rd!", "a", "%", "@", "pa/ss", "p?ss:w0rd", "%A0"])
def test_the_reported_passwords_are_not_printed_as_typed(capsys, password):
    dsn = f"postgresql://bob:{password}@127.0.0.1:{PORT}/jc_secret_db"
    status, text = cli_output(capsys, "show", dsn, "option")
    assert status in (2, 3)
    assert "ss@w0rd" not in text and "***" not in text.replace('"***"', "")  # nothing masked letter by letter
    if status == 2:
        assert "its value is not shown" in text
    else:
        assert 'connection to server at "127.0.0.1"' in text


def test_a_failed_login_names_neither_the_user_nor_the_password(capsys, databases):
    """A reachable server refusing the login: libpq names the user; the message keeps its structure only."""
    from psycopg.conninfo import make_conninfo

    password = f"pw-{secrets.token_hex(6)}"
    dsn = make_conninfo(databases.admin_dsn, user="jc_no_such_role_x", password=password, dbname="postgres")
    status, text = cli_output(capsys, "show", dsn, "option")
    assert status == 3, text
    assert "jc_no_such_role_x" not in text and password not in text
    assert 'role "***" does not exist' in text


# --- the DAG's task logs -------------------------------------------------------------------------------------

NO_RETRY_DAG = '''
# The macro airflow DAG without retries (Airflow's safe mode parses only files that say "airflow" and "dag")
from joint_context.dag_factory import build_joint_context_dag
from joint_context.spaces import REGIME_MACRO_V0
dag = build_joint_context_dag(REGIME_MACRO_V0, doc_md="no retries", retries=0)
'''


@pytest.mark.parametrize("form", ["json", "uri"])
def test_the_dag_logs_of_a_refused_connection_hold_no_password(tmp_path, databases, airflow_metadata_db, form):
    marker = secrets.token_hex(4)  # a token no log holds by chance
    password = f"p@ss@w0rd!:/%?# '{marker}"
    connection = {"conn_type": "postgres", "host": "127.0.0.1", "port": PORT, "login": "bob", "password": password}
    if form == "json":
        runtime, historical = ({**connection, "schema": name} for name in ("runtime_db", "historical_db"))
        connections = {"AIRFLOW_CONN_RUNTIME_DB": json.dumps(runtime),
                       "AIRFLOW_CONN_HISTORICAL_DB": json.dumps(historical)}
    else:  # an Airflow connection URI wants its user info percent-encoded
        uri = f"postgres://bob:{quote(password, safe='')}@127.0.0.1:{PORT}"
        connections = {"AIRFLOW_CONN_RUNTIME_DB": f"{uri}/runtime_db",
                       "AIRFLOW_CONN_HISTORICAL_DB": f"{uri}/historical_db"}
    dags, logs_folder = tmp_path / "dags", tmp_path / "logs"
    dags.mkdir()
    (dags / "no_retry_macro.py").write_text(NO_RETRY_DAG)
    environment = {**os.environ, **connections, "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                   "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs_folder)}
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "joint_regime_macro_context", "2025-01-02T00:00:00+00:00"],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    logs = completed.stdout + completed.stderr + "".join(
        path.read_text(errors="replace") for path in logs_folder.rglob("*") if path.is_file())
    assert "Connection refused" in logs, logs[-3000:]  # the extract task did connect, and was refused
    for fragment in (password, quote(password, safe=""), marker, "w0rd"):
        assert fragment not in logs
