"""The dev servers as a user runs them: a command in a process group of its own, its output in files, and what is
left of it read straight from ``/proc`` (written here, not with the harness under test). A zombie is a dead
process (a container's PID 1 may never reap the orphans a group leaves), so it does not count as left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import localdb
from devtools.paths import REPO_ROOT


def live_processes() -> list[tuple[int, int, str]]:
    """``(pid, pgid, state)`` of every process that is not a zombie."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            after_name = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if after_name[0] not in ("Z", "X"):
            found.append((int(entry.name), int(after_name[2]), after_name[0]))
    return found


def members_of_group(pgid: int) -> list[int]:
    return [pid for pid, group, _state in live_processes() if group == pgid]


def processes_with_environment(entry: str) -> list[int]:
    """Live processes whose environment holds ``entry`` (``NAME=value``), whatever their group."""
    found = []
    for pid, _group, _state in live_processes():
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.encode() in environment:
            found.append(pid)
    return found


def wait_until_gone(pids, timeout: float = 30.0) -> list[int]:
    """The pids still alive after ``timeout`` s (a postmaster may take a moment after its pid file is gone)."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = {pid for pid, _group, _state in live_processes()}
        left = [pid for pid in left if pid in alive]
    return left


@dataclass
class Command:
    """A command started the way a shell starts a job: leading a process group of its own."""

    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout.splitlines():
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.kill()
        pytest.fail(f"no line with {text!r} within {timeout:.0f} s (exit status {self.process.poll()})\n"
                    f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-5000:]}")

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to the command itself (as ``kill <pid>`` does); False if it had already exited."""
        try:
            os.kill(self.process.pid, signum)
        except ProcessLookupError:
            return False
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@pytest.fixture
def start_command(tmp_path):
    """``start_command(*args)``: ``python -m <args>`` from the repository root; SIGKILLed by group if left."""
    started: list[Command] = []

    def start(*args: str) -> Command:
        index = len(started)
        stdout_path, stderr_path = tmp_path / f"command-{index}.out", tmp_path / f"command-{index}.err"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=stdout, stderr=stderr,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started.append(Command(process, stdout_path, stderr_path))
        return started[-1]

    yield start
    for command in started:
        if command.process.poll() is None:
            command.kill()


@pytest.fixture(scope="module")
def own_pgdata():
    """A data folder of the tests' own, initialised once (the demo's ``.local/pgdata`` is not needed). Not under
    pytest's temp folder: any pytest session starting on the machine makes that root-only again, and the server's
    own user (``pgserver`` when run as root) then loses its data directory and shuts down."""
    folder = Path(tempfile.mkdtemp(prefix="jc-dev-server-pg-"))
    pgdata = folder / "pgdata"
    with localdb.embedded_server(pgdata):
        pass
    yield pgdata
    shutil.rmtree(folder, ignore_errors=True)


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
