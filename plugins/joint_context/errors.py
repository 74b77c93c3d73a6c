"""Errors that no retry can fix: the run fails at once, writes nothing, and says what to change."""

from __future__ import annotations


class JointDataError(ValueError):
    """Input data that no retry can fix: the run fails at once and writes nothing."""


class ParamsError(JointDataError):
    """Bad params or ``--conf``: the message says which key and what is expected."""


class VectorDataError(JointDataError):
    """A stored vector is malformed: wrong byte length, non-finite values or a mismatched dimension."""

    def __init__(self, table: str, row_id: object, problem: str) -> None:
        self.table = table
        self.row_id = row_id
        self.problem = problem
        super().__init__(f"{table} row {row_id!r}: {problem}")
