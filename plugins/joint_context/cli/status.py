"""The command line's exit statuses: what a calling script can rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """How a ``joint-context`` command ended (``epilog()`` says it for ``--help``)."""

    OK = 0
    FAILED_DATES = 1
    BAD_INPUT = 2
    DATABASE_ERROR = 3
    DATABASE_REFUSED = 4
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return MEANINGS[self]

    @classmethod
    def epilog(cls) -> str:
        return "Exit status: " + "; ".join(f"{status.value} {status.meaning}" for status in cls) + "."


MEANINGS = {
    ExitStatus.OK: "done (a date without data is skipped, not failed)",
    ExitStatus.FAILED_DATES: "some dates failed on bad data (the others are written), a requested plot had no data, "
                             "or the day explain recomputes has no joint vector (the reason is said)",
    ExitStatus.BAD_INPUT: "bad input (options, values, a DSN): nothing touched",
    ExitStatus.DATABASE_ERROR: "a transient database or connection error stopped the command: rerun it to finish",
    ExitStatus.DATABASE_REFUSED: "the database refused the work (schema, grants, read-only, constraints): fix what "
                                 "the message says, then rerun",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C): what was committed stays",
}
