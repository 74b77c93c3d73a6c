"""Issue 18, item 4: SIGINT or SIGTERM to a dev server stops everything it started, once, even when a second signal
arrives during the clean-up: ``python -m devtools.demo --serve`` (its embedded PostgreSQL) and ``python -m
devtools.airflow_stack`` (api-server, scheduler, dag-processor, their metadata database, the embedded PostgreSQL).
"""

from __future__ import annotations

import re
import signal
import time

import psycopg
import pytest

from devtools import localdb
from tests.devtools.conftest import (
    members_of_group,
    postmaster_pid,
    processes_with_environment,
    wait_until_gone,
)

STOP_CASES = [
    pytest.param(signal.SIGTERM, None, id="SIGTERM"),
    pytest.param(signal.SIGINT, signal.SIGINT, id="SIGINT-twice"),  # Ctrl-C, then Ctrl-C again during the stop
]


def assert_postgres_is_down(pgdata, pid: int) -> None:
    assert wait_until_gone([pid]) == [], f"the postmaster {pid} is still running"
    assert not (pgdata / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=str(pgdata), dbname="postgres", user="postgres", connect_timeout=3)


@pytest.mark.parametrize(("first", "second"), STOP_CASES)
def test_demo_serve_stops_its_embedded_postgres_on_a_stop_signal(first, second, own_pgdata, start_command):
    command = start_command("devtools.demo", "--serve", "--pgdata", str(own_pgdata))
    command.wait_for_line("Demo PostgreSQL is up", timeout=60)
    postmaster = postmaster_pid(own_pgdata)
    with psycopg.connect(host=str(own_pgdata), dbname="postgres", user="postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    assert command.signal(first)
    if second is not None:
        time.sleep(0.05)
        command.signal(second)
    assert command.process.wait(timeout=60) == 0, command.stderr[-3000:]

    assert "stopped" in command.stdout
    assert members_of_group(command.process.pid) == []
    assert_postgres_is_down(own_pgdata, postmaster)


def test_demo_serve_refuses_a_data_folder_that_does_not_exist(tmp_path, start_command):
    command = start_command("devtools.demo", "--serve", "--pgdata", str(tmp_path / "missing"))
    assert command.process.wait(timeout=60) == 2
    assert "run `make demo` first" in command.stderr
    assert not (tmp_path / "missing").exists()


@pytest.mark.scheduler
@pytest.mark.parametrize(("first", "second"), STOP_CASES)
def test_airflow_stack_stops_every_process_and_drops_its_metadata_db_on_a_stop_signal(
    first, second, own_pgdata, start_command, tmp_path
):
    work_dir = tmp_path / "stack"
    command = start_command("devtools.airflow_stack", "--pgdata", str(own_pgdata), "--work-dir", str(work_dir))
    command.wait_for_line("Airflow stack up", timeout=420)
    groups_line = command.wait_for_line("Process groups", timeout=5)
    groups = {name: int(pgid) for name, pgid in re.findall(r"([a-z-]+) (\d+)", groups_line.split(":", 1)[1])}
    assert set(groups) == {"api-server", "scheduler", "dag-processor"}
    assert all(members_of_group(pgid) for pgid in groups.values())
    airflow_home = f"AIRFLOW_HOME={work_dir / 'airflow-home'}"
    assert processes_with_environment(airflow_home)
    assert "Sign-in: none" in command.stdout and "anonymous admin" in command.stdout
    postmaster = postmaster_pid(own_pgdata)

    assert command.signal(first)
    if second is not None:
        time.sleep(1.0)  # the stop takes seconds: this one arrives in the middle of it
        if command.signal(second):
            assert command.process.wait(timeout=180) == 0
            assert "already stopping" in command.stderr
    assert command.process.wait(timeout=180) == 0, command.stderr[-5000:]

    assert "stopped" in command.stdout
    assert members_of_group(command.process.pid) == []
    assert {name: members_of_group(pgid) for name, pgid in groups.items()} == dict.fromkeys(groups, [])
    assert processes_with_environment(airflow_home) == []
    assert_postgres_is_down(own_pgdata, postmaster)
    with localdb.embedded_server(own_pgdata) as server:  # up again, only to look at its databases
        with psycopg.connect(server.get_uri()) as conn:
            names = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
    assert "airflow_stack_demo" not in names
