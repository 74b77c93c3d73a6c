"""The entry point: :func:`main` turns what happened into an exit status, :func:`program` does the work."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from joint_context.cli.definition import build_parser
from joint_context.cli.output import stdout_only_for_output
from joint_context.cli.status import ExitStatus
from joint_context.connections import (
    DATABASE_ROLES,
    describe_database_error,
    is_database_error,
    is_transient,
    resolve_database,
    what_to_fix,
)
from joint_context.dsn import Dsn, DsnError
from joint_context.errors import ParamsError


class UsageError(Exception):
    """Bad input the parser cannot see alone (options that contradict each other): one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its :class:`ExitStatus` (argparse exits with 2 on a bad option by itself)."""
    args = build_parser().parse_args(argv)
    try:
        return program(args)
    except (UsageError, ParamsError, DsnError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitStatus.BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except Exception as error:
        if not is_database_error(error):
            raise
        print(describe_database_error(error, given_dsns(args)), file=sys.stderr)
        return database_error_status(error)


def program(args: argparse.Namespace) -> ExitStatus:
    """The command ``args`` name, with its databases resolved and stdout kept for its output."""
    from joint_context.cli.commands import COMMANDS

    for role in DATABASE_ROLES:
        if hasattr(args, f"{role}_conn_id"):
            setattr(args, f"{role}_db", resolve_database(
                role, conn_id=getattr(args, f"{role}_conn_id"), dsn=getattr(args, f"{role}_dsn"), environ=os.environ))
    with stdout_only_for_output():
        return COMMANDS[args.command](args)


def database_error_status(error: BaseException) -> ExitStatus:
    """3 for an error a rerun can outlive; 4, with what to fix said on stderr, for one it cannot."""
    if is_transient(error):
        return ExitStatus.DATABASE_ERROR
    fix = what_to_fix(error)
    print(f"The database refuses this; rerunning will not help until it is fixed{': ' + fix if fix else ''}.",
          file=sys.stderr)
    return ExitStatus.DATABASE_REFUSED


def given_dsns(args: argparse.Namespace) -> list[Dsn]:
    """The DSNs the command was given, whose user info no message may show."""
    databases = (getattr(args, f"{role}_db", None) for role in DATABASE_ROLES)
    return [database.dsn for database in databases if database is not None and database.dsn is not None]
