"""Extract, aggregate and write for one joint space: the steps every front door shares (no Airflow import).

- :mod:`.extract`: a date range's regimes and text vectors, read in a few queries, as per-scope sums;
- :mod:`.aggregate`: the weighted joint vector of each scope, or why it is skipped;
- :mod:`.write`: one date's rows in one transaction, and the log lines saying what happened;
- :mod:`.rebuild`: a whole range, written in chunked transactions, as a generator of per-date outcomes.

The DAG's tasks run one date; the bulk command line and the rebuild DAG run :func:`rebuild_range`.
"""

from joint_context.pipeline.aggregate import ScopeResult, aggregate_day, aggregate_scope
from joint_context.pipeline.extract import DayExtract, ExtractedScope, dates_between, extract_day, extract_range
from joint_context.pipeline.rebuild import WRITE_CHUNK_KEYS, DateOutcome, rebuild_range
from joint_context.pipeline.write import ACTION_COUNTS, joint_rows, log_extracted, log_outcomes, log_results, write_day

__all__ = [
    "ACTION_COUNTS", "WRITE_CHUNK_KEYS", "DateOutcome", "DayExtract", "ExtractedScope", "ScopeResult", "aggregate_day",
    "aggregate_scope", "dates_between", "extract_day", "extract_range", "joint_rows", "log_extracted",
    "log_outcomes", "log_results", "rebuild_range", "write_day",
]
