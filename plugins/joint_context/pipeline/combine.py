"""The combined space's steps: read the branches' newest rows, combine them, write (no Airflow import).

    z = (w_macro * J_macro + w_news * J_news) / (w_macro + w_news)     (float64, stored as float32)

One query reads every context's branch rows of a date range; each date is then combined and written through the
write path the other spaces use (:func:`joint_context.store.replace_joint_rows_for_dates`: advisory locks, one
row per key, stale rows of skipped contexts removed, one transaction per date or chunk of dates).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from joint_context.combined_config import CombinedRunConfig
from joint_context.combined_read import BranchRow, fetch_newest_branch_rows
from joint_context.combined_space import JOINT_EMBEDDINGS_TABLE
from joint_context.config import RegionScope
from joint_context.errors import JointDataError, VectorDataError
from joint_context.pipeline.extract import dates_between
from joint_context.pipeline.rebuild import WRITE_CHUNK_KEYS, DateOutcome, plan_chunks, read_window_days
from joint_context.pipeline.write import ACTION_COUNTS, joint_rows
from joint_context.store import WriteOutcome, replace_joint_rows_for_dates
from joint_context.vectors import FLOAT32_LE, decode_vector

log = logging.getLogger("joint_context.pipeline")


@dataclass
class CombinedResult:
    """One context's outcome for one date: the combined vector, or why it is skipped.

    :param branch_rows: per branch read, the ``joint_id`` of the row used (``None``: none that day).
    """

    entity_scope: dict
    description: str
    branch_rows: dict[str, int | None]
    vector: np.ndarray | None = None
    skip_reason: str | None = None

    @property
    def l2_norm(self) -> float | None:
        return None if self.vector is None else math.sqrt(self.vector.astype(np.float64) @ self.vector)


@dataclass
class CombinedDay:
    """A date's results, or the data error that fails the date (nothing is written for it)."""

    as_of_date: date
    results: list[CombinedResult]
    error: JointDataError | None = None


def combine_range(historical_conn, config: CombinedRunConfig, first_date: date, last_date: date,
                  ) -> Iterator[CombinedDay]:
    """Read the branch rows of every context on every date in ``first_date..last_date`` in one query, and combine
    them. A malformed input row fails only its date: that date comes back with ``error`` set."""
    if last_date < first_date:
        raise JointDataError(f"empty date range: {first_date} is after {last_date}")
    branches = config.read_branches
    keys = [(branch.space.joint_type, config.space.branch_scope(branch, scope.region, scope.filter_dict))
            for scope in config.contexts for branch in branches]
    rows = fetch_newest_branch_rows(historical_conn, model_id=config.source_model_id, keys=keys,
                                    first_date=first_date, last_date=last_date)
    historical_conn.rollback()  # end the read-only transaction
    for day in dates_between(first_date, last_date):
        try:
            results = [
                combine_scope(config, scope, {branch.name: rows.get((number * len(branches) + offset, day))
                                              for offset, branch in enumerate(branches)})
                for number, scope in enumerate(config.contexts)
            ]
        except JointDataError as error:
            yield CombinedDay(day, [], error)
        else:
            yield CombinedDay(day, results)


def combine_scope(config: CombinedRunConfig, scope: RegionScope, rows: dict[str, BranchRow | None]) -> CombinedResult:
    """Combine one context's branch rows of one date (each row validated), or say which branch is absent."""
    result = CombinedResult(entity_scope=config.entity_scope(scope), description=scope.describe(),
                            branch_rows={name: None if row is None else row.joint_id for name, row in rows.items()})
    vectors: dict[str, tuple[int, np.ndarray]] = {}
    absent = []
    for branch in config.read_branches:
        row = rows[branch.name]
        joint_type = branch.space.joint_type
        if row is None:
            absent.append(f"no {joint_type} row")
        elif row.vector is None:
            absent.append(f"newest {joint_type} row {row.joint_id} has a NULL vector")
        else:
            vector = decode_vector(row.vector, table=JOINT_EMBEDDINGS_TABLE, row_id=row.joint_id)
            for other_type, (other_id, other) in vectors.items():
                if other.shape != vector.shape:
                    raise VectorDataError(
                        JOINT_EMBEDDINGS_TABLE, row.joint_id,
                        f"{joint_type} vector has dimension {vector.shape[0]} but the {other_type} row {other_id} of "
                        f"the same context and date has {other.shape[0]}")
            vectors[joint_type] = (row.joint_id, vector)
    if absent:
        result.skip_reason = "; ".join(absent)
        return result
    total = sum(config.weight(branch) for branch in config.read_branches)
    combined = np.zeros(next(iter(vectors.values()))[1].shape, dtype=np.float64)
    for branch in config.read_branches:  # the shares first: w * J could overflow float64 for huge weights
        combined += (config.weight(branch) / total) * vectors[branch.space.joint_type][1].astype(np.float64)
    result.vector = combined.astype(FLOAT32_LE)
    return result


def write_combined_day(historical_conn, config: CombinedRunConfig, as_of_date: date,
                       results: list[CombinedResult]) -> dict:
    """Write the date's rows and remove the stale rows of skipped contexts, in one transaction; log and return
    what was done (``{"as_of_date", "counts", "contexts"}``)."""
    outcomes = _write(historical_conn, config, {as_of_date: results})[as_of_date]
    return log_combined_outcomes(as_of_date, results, outcomes)


def rebuild_combined_range(historical_conn, config: CombinedRunConfig, first_date: date, last_date: date, *,
                           chunk_keys: int = WRITE_CHUNK_KEYS, window_days: int | None = None,
                           ) -> Iterator[DateOutcome]:
    """Compute and write every date of the range, ``chunk_keys`` keys a transaction (all of a date's keys in one),
    as :func:`joint_context.pipeline.rebuild_range` does, reading it a window at a time as that does; yield each
    date's outcome once committed."""
    pending: dict[date, CombinedDay] = {}
    pending_keys = 0
    windows = plan_chunks(first_date, last_date, window_days or read_window_days(len(config.contexts)))
    for window_start, window_end in windows:
        for day in combine_range(historical_conn, config, window_start, window_end):
            pending[day.as_of_date] = day
            pending_keys += len(day.results)
            if pending_keys >= chunk_keys:
                yield from _write_chunk(historical_conn, config, pending)
                pending, pending_keys = {}, 0
    yield from _write_chunk(historical_conn, config, pending)


def _write_chunk(historical_conn, config: CombinedRunConfig, pending: dict[date, CombinedDay]) -> Iterator[DateOutcome]:
    written = _write(historical_conn, config, {as_of_date: day.results for as_of_date, day in pending.items()
                                               if day.error is None})
    for as_of_date, day in pending.items():
        if day.error is not None:
            yield DateOutcome(as_of_date, "failed", error=day.error)
            continue
        counts = log_combined_outcomes(as_of_date, day.results, written[as_of_date])["counts"]
        yield DateOutcome(as_of_date, "written" if counts["written"] + counts["replaced"] else "skipped", counts)


def _write(historical_conn, config: CombinedRunConfig,
           results_by_date: dict[date, list[CombinedResult]]) -> dict[date, list[WriteOutcome]]:
    if not results_by_date:
        return {}
    return replace_joint_rows_for_dates(
        historical_conn, joint_type=config.space.joint_type, model_id=config.joint_model_id,
        rows_by_date={as_of_date: joint_rows(results) for as_of_date, results in results_by_date.items()},
        case_insensitive=config.space.case_insensitive_filters,
    )


def log_combined_outcomes(as_of_date: date, results: list[CombinedResult], outcomes: list[WriteOutcome]) -> dict:
    """Log what the write did per context; return the counts per action and a line per context."""
    counts = dict.fromkeys(ACTION_COUNTS, 0)
    summary = []
    for result, outcome in zip(results, outcomes, strict=True):
        used = ", ".join(f"{name} row {joint_id}" for name, joint_id in result.branch_rows.items()
                         if joint_id is not None)
        if result.vector is not None:
            log.info("%s %s: %s from %s, L2 norm %.6f", as_of_date, result.description, outcome.action, used,
                     result.l2_norm)
        else:
            removed = f"; removed {outcome.previous_rows} stale row(s)" if outcome.action == "removed" else ""
            log.info("%s %s: skipped (%s)%s", as_of_date, result.description, result.skip_reason, removed)
        counts["skipped" if outcome.action in ("removed", "nothing") else outcome.action] += 1
        counts["removed"] += outcome.action == "removed"
        summary.append({"entity_scope": result.entity_scope, "branch_rows": result.branch_rows,
                        "action": "skipped" if outcome.action == "nothing" else outcome.action,
                        "previous_rows": outcome.previous_rows, "skip_reason": result.skip_reason,
                        "l2_norm": result.l2_norm})
    log.info("%s: %d written, %d replaced, %d skipped (%d stale rows removed)", as_of_date, counts["written"],
             counts["replaced"], counts["skipped"], counts["removed"])
    return {"as_of_date": as_of_date.isoformat(), "counts": counts, "contexts": summary}


def dates_named_by_events(extras: Iterable[object]) -> list[date]:
    """The dates the triggering asset events name (their ``extra["as_of_date"]``), each once, in order.

    Events without a date (written by another tool, or by a version that attached none) name nothing.
    """
    named = set()
    for extra in extras:
        value = extra.get("as_of_date") if isinstance(extra, Mapping) else None
        if isinstance(value, str):
            try:
                named.add(date.fromisoformat(value))
            except ValueError:
                log.warning("asset event extra %r names no ISO date: ignored", extra)
    return sorted(named)
