"""``python -m devtools.airflow_stack`` (``make stack``): a real Airflow 3 on the demo's databases until Ctrl-C or
SIGTERM (see :mod:`devtools.airflow.serve`).

The harness itself lives in :mod:`devtools.airflow`: ``processes`` (process groups, bounded runs, stopping),
``stack`` (:class:`AirflowStack`) and ``metadata`` (:class:`DagRunRecord`, queries and waits); the names below are
kept importable from here.
"""

from __future__ import annotations

import sys

from devtools.airflow.metadata import DagRunRecord
from devtools.airflow.serve import main
from devtools.airflow.stack import AirflowStack

__all__ = ["AirflowStack", "DagRunRecord", "main"]

if __name__ == "__main__":
    sys.exit(main())
