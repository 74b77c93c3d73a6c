"""Child processes of the Airflow harnesses (Airflow 3 stack, Airflow 2.11 tests, the demo): each one leads a
process group of its own (``start_new_session``: pgid == pid), so it and everything it forks are signalled and
waited for together, and a Ctrl-C in the terminal reaches only the parent, which then stops them in order.

- :func:`spawn`: a long-running command whose output goes to a log file;
- :func:`run_bounded`: a command run to its end within a timeout; its group is killed on time-out, on any
  exception (a stop signal included) and after it exits (children it left behind);
- :func:`stop_groups`: SIGTERM to groups, SIGKILL after a grace period, until no live member is left;
- :func:`group_members`: the live processes of a group (``/proc``; zombies are dead and do not count: PID 1 of a
  container may never reap the orphans a group leaves);
- :func:`free_port`: a TCP port on 127.0.0.1 that nothing listens on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from devtools import shutdown

PROC = Path("/proc")


class CommandTimedOut(TimeoutError):
    """A bounded command did not finish in time; carries the tail of its output."""

    def __init__(self, command: Sequence[str], timeout: float, output: str) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.output = output
        tail = "\n".join(output.splitlines()[-60:])
        super().__init__(f"{' '.join(self.command)} did not finish within {timeout:.0f} s; its output ended with:\n"
                         f"{tail}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    """Start ``command`` leading a new process group, stdout and stderr appended to ``log_path``.

    Record the result inside :func:`devtools.shutdown.deferred` (a stop signal between the start and the record
    would leave a child nobody stops)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )


def run_bounded(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    log_path: Path | None = None,
    merge_stderr: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``command`` in a new process group until it exits, at most ``timeout`` seconds.

    Output is captured as text (stderr into stdout unless ``merge_stderr=False``), or appended to ``log_path``.
    Raises :class:`CommandTimedOut` after killing the group when time runs out; whatever is left of the group
    when the command exits, or when the caller is interrupted, is stopped too."""
    with contextlib.ExitStack() as files:
        # files, not pipes: the command is done when it exits, even if a child it left still holds its output
        stdout = files.enter_context(log_path.open("ab") if log_path else tempfile.TemporaryFile())
        stderr = (subprocess.STDOUT if merge_stderr or log_path else files.enter_context(tempfile.TemporaryFile()))
        process = None
        try:
            with shutdown.deferred():
                process = subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                           stdout=stdout, stderr=stderr, start_new_session=True)
            try:
                process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                timed_out = True
            out = None if log_path else _read(stdout)
            err = None if stderr == subprocess.STDOUT else _read(stderr)
            if timed_out:
                raise CommandTimedOut(command, timeout, _tail_of(log_path) if log_path else out + (err or ""))
            return subprocess.CompletedProcess(list(command), process.returncode, out, err)
        finally:
            if process is not None:
                stop_group(process, term_timeout=5.0)


def _read(file) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def stop_group(process: subprocess.Popen, *, term_timeout: float = 20.0, kill_timeout: float = 10.0) -> list[str]:
    """:func:`stop_groups` of one process."""
    return stop_groups([process], term_timeout=term_timeout, kill_timeout=kill_timeout)


def stop_groups(processes: Sequence[subprocess.Popen], *, term_timeout: float = 20.0,
                kill_timeout: float = 10.0) -> list[str]:
    """SIGTERM to the groups these processes lead (all at once), SIGKILL to what is left after ``term_timeout`` s;
    returns what is still alive ``kill_timeout`` s later (``[]``: every leader reaped, no member left)."""
    for signum, wait_seconds in ((signal.SIGTERM, term_timeout), (signal.SIGKILL, kill_timeout)):
        left = _groups_left(processes)
        for process in left:
            signal_group(process.pid, signum)
        deadline = time.monotonic() + wait_seconds
        while left and time.monotonic() < deadline:
            time.sleep(0.2)  # children (task processes, a Celery pool) may leave after their parent
            left = _groups_left(left)
        if not left:
            return []
    groups = live_groups()
    return [member for process in processes for member in groups.get(process.pid, [])]


def _groups_left(processes: Sequence[subprocess.Popen]) -> list[subprocess.Popen]:
    groups = live_groups()
    return [process for process in processes if process.poll() is None or process.pid in groups]  # poll() reaps


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # nobody left, zombies aside


def group_members(pgid: int) -> list[str]:
    """``"<pid> <state> <name>"`` of each live (not zombie) process of group ``pgid``."""
    return live_groups().get(pgid, [])


def is_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    stat = _stat(PROC / str(pid))
    return stat is not None and stat[1] not in ("Z", "X")


def live_groups() -> dict[int, list[str]]:
    """Process group id -> ``"<pid> <state> <name>"`` of its live members, from one pass over ``/proc`` (Linux)."""
    groups: dict[int, list[str]] = {}
    for entry in PROC.iterdir():
        stat = _stat(entry) if entry.name.isdigit() else None
        if stat is not None and stat[1] not in ("Z", "X"):
            groups.setdefault(stat[2], []).append(f"{entry.name} {stat[1]} {stat[0]}")
    return groups


def _stat(proc_dir: Path) -> tuple[str, str, int] | None:
    """(name, state, process group) from ``/proc/<pid>/stat``; None once the process is gone."""
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1:stat.rindex(")")]  # the name may hold spaces and parentheses
    state, _ppid, group = stat[stat.rindex(")") + 2:].split()[:3]
    return name, state, int(group)


def _tail_of(path: Path, size: int = 20_000) -> str:
    with path.open("rb") as file:
        file.seek(max(path.stat().st_size - size, 0))
        return file.read().decode(errors="replace")
