"""Ctrl-C: the command line stops with exit status 130, says so, and leaves no half-written transaction."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from joint_context.spaces import REGIME_MACRO_V0, joint_lock_key
from tests.e2e.cli_helpers import (
    CLI_TIMEOUT_SECONDS,
    MACRO_CONTEXTS,
    MACRO_DATES,
    dsn_options,
    environment_with,
    stored_rows,
)


def test_ctrl_c_while_a_write_waits_exits_130_and_writes_nothing(clean_databases, historical_conn, macro_range):
    before = stored_rows(historical_conn)
    first_key = joint_lock_key(REGIME_MACRO_V0.joint_type, REGIME_MACRO_V0.default_joint_model_id, MACRO_DATES[0],
                               REGIME_MACRO_V0.entity_scope("US", {"country": "US"}))
    with psycopg.connect(clean_databases.historical_dsn) as holder:  # a writer of the same key, mid-transaction
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (first_key,))
        command = subprocess.Popen(
            [str(Path(sys.executable).parent / "joint-context"), "backfill", "--no-progress",
             "--conf", json.dumps({"contexts": MACRO_CONTEXTS}), *dsn_options(clean_databases),
             "--date-range", MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat()],
            env=environment_with(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + CLI_TIMEOUT_SECONDS
            while not historical_conn.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchall():
                assert command.poll() is None and time.monotonic() < deadline, "the backfill never waited"
                time.sleep(0.05)
            command.send_signal(signal.SIGINT)
            _out, err = command.communicate(timeout=CLI_TIMEOUT_SECONDS)
        finally:
            if command.poll() is None:
                command.kill()
        holder.rollback()

    assert command.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert stored_rows(historical_conn) == before
    assert not historical_conn.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchall()  # its wait was cancelled
