"""The shared process harness (``devtools.airflow.processes``) and the stop-signal guard (``devtools.shutdown``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devtools import shutdown
from devtools.airflow import processes
from tests.devtools.conftest import members_of_group, wait_until_gone

PYTHON = sys.executable


def test_run_bounded_stops_what_the_command_left_running_in_its_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (f"import subprocess, sys; child = subprocess.Popen([{PYTHON!r}, '-c', 'import time; time.sleep(60)']);"
              f" open({str(pid_file)!r}, 'w').write(str(child.pid)); print('parent done')")
    completed = processes.run_bounded([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, timeout=30)
    assert (completed.returncode, completed.stdout.strip()) == (0, "parent done")
    assert wait_until_gone([int(pid_file.read_text())], timeout=1) == []


def test_run_bounded_kills_the_group_on_time_out_and_says_what_the_command_printed(tmp_path):
    script = "import time; print('started', flush=True); time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(processes.CommandTimedOut, match="did not finish within 1 s(.|\n)*started") as raised:
        processes.run_bounded([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, timeout=1)
    assert time.monotonic() - started < 20
    assert raised.value.output.strip() == "started"


def test_run_bounded_keeps_stderr_apart_when_asked_and_can_append_to_a_log(tmp_path):
    script = "import sys; print('out'); print('err', file=sys.stderr)"
    completed = processes.run_bounded([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, timeout=30,
                                      merge_stderr=False)
    assert (completed.stdout, completed.stderr) == ("out\n", "err\n")
    log = tmp_path / "run.log"
    log.write_text("before\n")
    completed = processes.run_bounded([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, timeout=30, log_path=log)
    assert completed.stdout is None
    assert sorted(log.read_text().splitlines()) == ["before", "err", "out"]


def test_stop_groups_sigkills_a_group_that_ignores_sigterm_after_the_grace_period(tmp_path):
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); " \
             "time.sleep(60)"
    log = tmp_path / "stubborn.log"
    stubborn = processes.spawn([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, log_path=log)
    polite = processes.spawn([PYTHON, "-c", "import time; time.sleep(60)"], env=os.environ, cwd=tmp_path,
                             log_path=tmp_path / "polite.log")
    deadline = time.monotonic() + 30
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    assert processes.stop_groups([stubborn, polite], term_timeout=1.0) == []
    assert 1.0 <= time.monotonic() - started < 10
    assert (stubborn.returncode, polite.returncode) == (-signal.SIGKILL, -signal.SIGTERM)
    assert members_of_group(stubborn.pid) == members_of_group(polite.pid) == []


def test_spawn_starts_a_group_of_its_own(tmp_path):
    child = processes.spawn([PYTHON, "-c", "import time; time.sleep(60)"], env=os.environ, cwd=tmp_path,
                            log_path=tmp_path / "logs" / "child.log")
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        processes.stop_group(child)
    assert (tmp_path / "logs" / "child.log").exists()


@pytest.fixture
def stop_handlers():
    """The test process's own SIGINT / SIGTERM handlers, put back afterwards (a begun stop keeps the guard's)."""
    saved = {signum: signal.getsignal(signum) for signum in shutdown.STOP_SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_first_stop_signal_raises_once_and_later_ones_are_only_reported(stop_handlers, capfd):
    with shutdown.stop_on_signals():
        with pytest.raises(shutdown.StopRequested) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises out of this sleep
        assert raised.value.signal_name == "SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)  # during the clean-up: nothing raised
        time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGINT)  # after the block too: the command is exiting, a late signal changes nothing
    time.sleep(0.1)
    assert capfd.readouterr().err.count("SIGINT: already stopping") == 2


def test_a_signal_inside_a_deferred_block_is_raised_at_its_end(stop_handlers):
    finished = False
    with shutdown.stop_on_signals(), pytest.raises(shutdown.StopRequested):
        with shutdown.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            finished = True
    assert finished


def test_a_stop_begun_by_an_error_is_not_interrupted_by_a_signal(stop_handlers, capfd):
    with shutdown.stop_on_signals(), shutdown.stopping():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
    assert "SIGTERM: already stopping" in capfd.readouterr().err


def test_without_a_stop_the_previous_handlers_come_back(stop_handlers):
    before = signal.getsignal(signal.SIGTERM)
    with shutdown.stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
    with shutdown.deferred(), shutdown.stopping():  # no guard installed: plain blocks
        pass


def test_a_bounded_command_interrupted_by_a_stop_is_stopped_with_its_group(stop_handlers, tmp_path):
    pid_file = tmp_path / "command.pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    timer = subprocess.Popen([PYTHON, "-c", f"import os, time; time.sleep(2); os.kill({os.getpid()}, 15)"])
    with shutdown.stop_on_signals(), pytest.raises(shutdown.StopRequested):
        processes.run_bounded([PYTHON, "-c", script], env=os.environ, cwd=tmp_path, timeout=60)
    timer.wait(timeout=10)
    command_pid = int(pid_file.read_text())
    assert wait_until_gone([command_pid], timeout=1) == []
    assert members_of_group(command_pid) == []
