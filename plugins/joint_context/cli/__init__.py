"""The command line, ``joint-context`` (or ``python -m joint_context``): ``backfill`` a date range in bulk, ``show``
a space's vectors, ``compare`` the spaces, ``explain`` how much each branch weighs in one day's vector, find a
day's analog days (``similar``), rebuild the pgvector side table (``vector-index rebuild``).

    joint-context backfill --region US --region EU --date-range 2025-01-01 2025-01-31 --country US
    joint-context show --space REGIME_CONTEXT_V0 --region US --date-range 2025-01-01 2025-01-31 --csv
    joint-context compare --region US --date-range 2025-01-01 2025-01-31 --plot us.png
    joint-context explain --region US --country US --date 2025-01-15 --format json
    joint-context similar --space REGIME_MACRO_V0 --region US --country US --date 2025-01-15 --top 10

Split by role, as well-kept command lines are: :mod:`.definition` declares the arguments, :mod:`.argtypes` turns
strings into values (argparse reports bad ones), :mod:`.core` runs a command and maps errors to an
:class:`~.status.ExitStatus`, :mod:`.commands` holds one module per command, :mod:`.output` and :mod:`.plot` print.

Connections are Airflow connections (``AIRFLOW_CONN_RUNTIME_DB`` / ``AIRFLOW_CONN_HISTORICAL_DB`` or the metadata
database), or libpq connection strings (``--runtime-dsn`` / ``--historical-dsn``, or ``JOINT_CONTEXT_RUNTIME_DSN`` /
``JOINT_CONTEXT_HISTORICAL_DSN``): with DSNs Airflow is never imported. A DSN is never printed, nor any part of its
user info (:mod:`joint_context.dsn`).
"""

from joint_context.cli.core import main
from joint_context.cli.definition import build_parser
from joint_context.cli.status import ExitStatus

__all__ = ["ExitStatus", "build_parser", "main"]
