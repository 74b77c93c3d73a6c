"""Argument types: each turns one command-line string into a value, or makes argparse report why it cannot.

A bad value exits with argparse's usage line and status 2 (:attr:`ExitStatus.BAD_INPUT`) before anything runs.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import date

from joint_context.spaces import JointSpace, space_by_name


def iso_date(text: str) -> date:
    """``2025-01-31`` as a date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-01-31") from None


def joint_space(text: str) -> JointSpace:
    """A joint type (``REGIME_MACRO_V0``) or DAG id (``joint_regime_macro_context``)."""
    try:
        return space_by_name(text)
    except KeyError as error:
        raise argparse.ArgumentTypeError(error.args[0]) from None


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


class DateRange(argparse.Action):
    """``--date-range START END``: two ISO dates, START <= END, stored as a ``(first, last)`` tuple."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        first_date, last_date = values
        if last_date < first_date:
            raise argparse.ArgumentError(self, f"START {first_date} is after END {last_date}")
        setattr(namespace, self.dest, (first_date, last_date))
