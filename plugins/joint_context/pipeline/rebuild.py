"""Rebuild a date range: read it in bulk, then write its dates in chunked transactions (no Airflow import).

The bulk command line and the rebuild DAG's chunk tasks both run :func:`rebuild_range`: the DAG's own extract,
aggregate and write steps over many dates, read in one regime query and one binary ``COPY`` per filter set, and
written ``chunk_keys`` (date, scope) keys at a time, one transaction per chunk (three statements,
:func:`joint_context.store.replace_joint_rows_for_dates`). All of a date's keys are in one transaction, so a
range leaves exactly the rows one DAG run per date would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from joint_context.config import RunConfig
from joint_context.errors import JointDataError
from joint_context.pipeline.aggregate import ScopeResult, aggregate_day
from joint_context.pipeline.extract import DayExtract, extract_range
from joint_context.pipeline.write import ACTION_COUNTS, joint_rows, log_outcomes
from joint_context.store import replace_joint_rows_for_dates

WRITE_CHUNK_KEYS = 256  # commit once this many (date, scope) keys are pending, and at the end
# A long range is read a window of days at a time, so memory stays flat whatever the range: a window holds at most
# this many context-days of regimes and text sums (50 contexts x 92 days: about 28 MB at 384 dimensions). Fewer
# contexts read longer windows, which cost fewer queries: three contexts read ten years in three windows.
HELD_CONTEXT_DAYS = 50 * 92
MIN_WINDOW_DAYS = 31


@dataclass(frozen=True)
class DateOutcome:
    """What a rebuild did for one date, once final (committed, or failed and left as it was).

    :param status: ``written`` (at least one scope has a row), ``skipped`` (no scope had data) or ``failed``.
    :param counts: per scope action: written, replaced, skipped, removed (stale rows removed).
    :param error: the data error that failed the date.
    """

    as_of_date: date
    status: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTION_COUNTS, 0))
    error: JointDataError | None = None


def rebuild_range(
    runtime_conn, historical_conn, config: RunConfig, first_date: date, last_date: date, *,
    chunk_keys: int = WRITE_CHUNK_KEYS, window_days: int | None = None,
) -> Iterator[DateOutcome]:
    """Compute and write every date of ``first_date..last_date``; yield each date's outcome in date order, once
    its chunk is committed. A date with bad data writes nothing and comes back ``failed``; the others go on.

    The range is read ``window_days`` at a time (default :func:`read_window_days`; one regime query and one
    ``COPY`` per filter set each), so what is held is one window's regimes and text sums, however long the range.
    A database error stops the generator: the dates yielded so far are committed, the rest are not (rerunning the
    range rewrites the committed dates with the same bytes).
    """
    pending: dict[date, list[ScopeResult] | JointDataError] = {}
    pending_keys = 0
    window_days = window_days or read_window_days(len(config.contexts))
    for day in _windowed_extract(runtime_conn, historical_conn, config, first_date, last_date, window_days):
        outcome: list[ScopeResult] | JointDataError | None = day.error
        if outcome is None:
            try:
                outcome = aggregate_day(day.scopes, config)
            except JointDataError as error:
                outcome = error
        pending[day.as_of_date] = outcome
        if not isinstance(outcome, JointDataError):
            pending_keys += len(outcome)
        if pending_keys >= chunk_keys:
            yield from _write_chunk(historical_conn, config, pending)
            pending, pending_keys = {}, 0
    yield from _write_chunk(historical_conn, config, pending)


def read_window_days(contexts: int) -> int:
    """Days per read window for ``contexts`` contexts: as many as keep ``HELD_CONTEXT_DAYS`` context-days at most
    (at least ``MIN_WINDOW_DAYS``)."""
    return max(MIN_WINDOW_DAYS, HELD_CONTEXT_DAYS // max(contexts, 1))


def _windowed_extract(runtime_conn, historical_conn, config: RunConfig, first_date: date, last_date: date,
                      window_days: int) -> Iterator[DayExtract]:
    for window_start, window_end in plan_chunks(first_date, last_date, window_days):
        yield from extract_range(runtime_conn, historical_conn, config, window_start, window_end, bulk=True)


def _write_chunk(historical_conn, config: RunConfig,
                 pending: dict[date, list[ScopeResult] | JointDataError]) -> Iterator[DateOutcome]:
    """Write the pending dates' rows in one transaction, then their outcomes (failed dates among them)."""
    rows_by_date = {as_of_date: joint_rows(results) for as_of_date, results in pending.items()
                    if not isinstance(results, JointDataError)}
    written = {}
    if rows_by_date:
        written = replace_joint_rows_for_dates(
            historical_conn, joint_type=config.space.joint_type, model_id=config.joint_model_id,
            rows_by_date=rows_by_date, case_insensitive=config.space.case_insensitive_filters,
        )
    for as_of_date, results in pending.items():
        if isinstance(results, JointDataError):
            yield DateOutcome(as_of_date, "failed", error=results)
            continue
        counts = log_outcomes(as_of_date, results, written[as_of_date])["counts"]
        yield DateOutcome(as_of_date, "written" if counts["written"] + counts["replaced"] else "skipped", counts)


def plan_chunks(first_date: date, last_date: date, chunk_days: int) -> list[tuple[date, date]]:
    """``first_date..last_date`` as consecutive inclusive ranges of ``chunk_days`` dates (the last one shorter)."""
    chunks = []
    chunk_start = first_date
    while chunk_start <= last_date:
        chunk_end = min(chunk_start + timedelta(days=chunk_days - 1), last_date)
        chunks.append((chunk_start, chunk_end))
        chunk_start = chunk_end + timedelta(days=1)
    return chunks
