"""Argument types: each turns one command-line string into a value, or makes argparse report why it cannot.

A bad value exits with argparse's usage line and status 2 (:attr:`ExitStatus.BAD_INPUT`) before anything runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from datetime import date, timedelta
from pathlib import Path

from joint_context.combined_space import COMBINED_SPACES, CombinedSpace
from joint_context.spaces import JointSpace, space_by_name


def iso_date(text: str) -> date:
    """``2025-01-31`` as a date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-31") from None


def joint_space(text: str) -> JointSpace | CombinedSpace:
    """A joint type (``REGIME_MACRO_V0``, ``REGIME_COMBINED_V0``) or DAG id (``joint_regime_macro_context``)."""
    for combined in COMBINED_SPACES.values():
        if text in (combined.joint_type, combined.dag_id):
            return combined
    try:
        return space_by_name(text)
    except KeyError as error:
        names = ", ".join(f"{space.joint_type} ({space.dag_id})" for space in COMBINED_SPACES.values())
        raise argparse.ArgumentTypeError(f"{error.args[0]}, {names}") from None


def json_object(text: str) -> dict:
    """A JSON object, e.g. ``'{"contexts": [{"region": "EU"}]}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({error.msg} at character {error.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r}")
    return value


def weight(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}


def duration(text: str) -> timedelta:
    """``600``, ``600s``, ``10m``, ``1h`` (``0``: no limit)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 600, 600s, 10m or 1h")
    amount, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(**{UNITS[unit]: amount})


def png_path(text: str) -> Path:
    """A PNG file that can be written: ``.png`` suffix, not a directory, in a folder that is (or can be) there."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; name a file in it, e.g. {path / 'plot.png'}")
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r} must name a .png file (the plot is a PNG)")
    folder = path.parent.resolve()
    while not folder.exists():  # the folders missing are created when the plot is written
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written (no permission)")
    return path


class DateRange(argparse.Action):
    """``--date-range START END``: two ISO dates, START <= END, stored as a ``(first, last)`` tuple. END is before
    ``date.max``: a day's window ends at the next day, which must exist."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        first_date, last_date = values
        if last_date < first_date:
            raise argparse.ArgumentError(self, f"START {first_date} is after END {last_date}")
        if last_date == date.max:
            raise argparse.ArgumentError(self, f"END {last_date} is the last date there is; a day's window ends at "
                                               "the next day: use 9999-12-30 or earlier")
        setattr(namespace, self.dest, (first_date, last_date))
