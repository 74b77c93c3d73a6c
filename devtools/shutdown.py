"""One clean stop on SIGINT and SIGTERM for the dev servers (``make stack``, ``make demo-db``).

Inside :func:`stop_on_signals` the first SIGINT or SIGTERM raises :class:`StopRequested` in the main thread, so
the ``finally`` blocks that stop what was started run, exactly as after an error. From then on the command is
*stopping*: further signals are reported on stderr and change nothing, so a second Ctrl-C cannot cut the
clean-up short. Code that must not be interrupted half-way (starting a child and recording it) runs in
:func:`deferred`: a signal arriving there is acted on at its end. Cleanup code enters :func:`stopping` so that a
first signal arriving during a stop that an error started does not interrupt it either.

Without :func:`stop_on_signals` (tests, the benchmark) :func:`deferred` and :func:`stopping` do nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(BaseException):  # like KeyboardInterrupt: `except Exception` does not swallow it
    """A stop signal arrived; raised once, in the main thread."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"{self.signal_name} received")


class _Guard:
    def __init__(self) -> None:
        self.is_stopping = False
        self.deferring = 0
        self.pending: int | None = None

    def handle(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.is_stopping:
            _say(f"{name}: already stopping, please wait for the clean-up to finish\n")
        elif self.deferring:
            self.pending = self.pending or signum
        else:
            self.raise_stop(signum)

    def raise_stop(self, signum: int) -> None:
        self.is_stopping = True
        _say(f"{signal.Signals(signum).name}: stopping everything this command started\n")
        raise StopRequested(signum)


_guard: _Guard | None = None


def _say(message: str) -> None:
    os.write(2, message.encode())  # not print(): the handler may run while the main thread is inside a print


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT / SIGTERM into :class:`StopRequested`. The previous handlers come back at the end unless
    a stop began (the command is exiting: a late signal must not turn a clean stop into death by signal)."""
    global _guard
    guard = _Guard()
    previous = {signum: signal.signal(signum, guard.handle) for signum in STOP_SIGNALS}
    _guard = guard
    try:
        yield
    finally:
        _guard = None
        if not guard.is_stopping:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """A stop signal arriving inside the block is acted on when it ends (nothing started goes unrecorded)."""
    guard = _guard
    if guard is None:
        yield
        return
    guard.deferring += 1
    try:
        yield
    finally:
        guard.deferring -= 1
        if not guard.deferring and guard.pending is not None and not guard.is_stopping:
            guard.raise_stop(guard.pending)


@contextmanager
def stopping() -> Iterator[None]:
    """The stop has begun: from here on signals are only reported (the command ends after the clean-up)."""
    if _guard is not None:
        _guard.is_stopping = True
    yield

