"""What the commands print: tables and CSV on stdout, progress and log lines on stderr.

stdout carries a command's result alone (a CSV stays a CSV); everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def print_table(columns: Sequence[str], records: Iterable[Sequence[object]]) -> None:
    """An aligned text table on stdout: floats to six places, ``-`` for nothing."""
    cells = [[cell(value) for value in record] for record in records]
    widths = [max([len(column), *(len(row[index]) for row in cells)]) for index, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def write_csv(columns: Sequence[str], records: Iterable[Sequence[object]]) -> None:
    """CSV on stdout: floats at full precision (``repr``), an empty field for nothing."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if value is None else repr(value) if isinstance(value, float) else value
                         for value in record])


def print_figures(figures: Iterable[tuple[str, object]]) -> None:
    """A two-column table of named figures on stdout: floats to six significant digits (a share of 3e-05 stays
    readable), ``-`` for nothing."""
    print_table(("figure", "value"), [(name, f"{value:.6g}" if isinstance(value, float) else value)
                                      for name, value in figures])


def write_json(value: object) -> None:
    """One JSON document on stdout: floats at full precision, dates as ISO text, non-ASCII kept."""
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def note(message: str) -> None:
    """A line for the person at the terminal (stderr), not part of the result."""
    print(message, file=sys.stderr)


@contextlib.contextmanager
def stdout_only_for_output() -> Iterator[None]:
    """Log records (Airflow's connection notices, library warnings) to stderr, so stdout is the command's output
    alone. Importing Airflow points the root logger at stdout; restored afterwards."""
    root = logging.getLogger()
    saved = list(root.handlers)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    to_stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler for handler in saved
                     if getattr(handler, "stream", None) not in (sys.stdout, sys.__stdout__)] + [to_stderr]
    try:
        yield
    finally:
        root.handlers = saved


@contextlib.contextmanager
def package_log_to(console, *, verbose: bool) -> Iterator[None]:
    """The package's per-scope log lines: to stderr above the progress bar with ``verbose``, nowhere otherwise."""
    from rich.logging import RichHandler

    package_log = logging.getLogger("joint_context")
    saved = (package_log.propagate, package_log.handlers, package_log.level)
    package_log.propagate = False
    package_log.handlers = [RichHandler(console=console, show_path=False, markup=False)
                            if verbose else logging.NullHandler()]
    package_log.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        package_log.propagate, package_log.handlers, package_log.level = saved


def progress_bar(console, *, disabled: bool):
    """A rich progress bar of dates with written / skipped / failed counts (``disabled``: prints nothing)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[written]} written[/] · {task.fields[skipped]} skipped · "
                   "[red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        console=console,
        disable=disabled,
    )
