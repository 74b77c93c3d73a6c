"""Extract, aggregate and write for one joint space: the steps the DAG's tasks and the CLI share.

Extraction reads a date range in few queries (one for regimes, one streamed query per distinct filter
set); the DAG asks for a range of one day, the bulk backfill for years. What travels from extract to
aggregate is O(dimension) per context: the regime vector and the text sum and count.
No Airflow import.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from joint_context.config import JointContext, RunConfig
from joint_context.copy_read import IrregularRow, VectorBlock, copy_text_vectors, day_from_number, day_number
from joint_context.errors import JointDataError, VectorDataError
from joint_context.joint import TextAccumulator
from joint_context.spaces import REGIMES_TABLE, TEXT_EMBEDDINGS_TABLE
from joint_context.store import JointRow, WriteOutcome, fetch_regimes, replace_joint_rows, stream_text_vectors
from joint_context.vectors import decode_vector, encode_vector

log = logging.getLogger(__name__)


@dataclass
class ExtractedContext:
    """One context's inputs for one date: the newest regime (if any) and the text sum and counts."""

    context: JointContext
    entity_scope: dict
    regime_record_id: str | None
    regime_vector: np.ndarray | None
    text: TextAccumulator

    def to_xcom(self) -> dict:
        return {
            "region": self.context.region,
            "filters": self.context.filter_dict,
            "entity_scope": self.entity_scope,
            "regime_record_id": self.regime_record_id,
            "regime_vector": None if self.regime_vector is None else self.regime_vector.tolist(),
            "text": self.text.to_dict(),
        }

    @classmethod
    def from_xcom(cls, payload: dict) -> ExtractedContext:
        regime_vector = payload["regime_vector"]
        return cls(
            context=JointContext(payload["region"], tuple(sorted(payload["filters"].items()))),
            entity_scope=payload["entity_scope"],
            regime_record_id=payload["regime_record_id"],
            regime_vector=None if regime_vector is None else np.asarray(regime_vector, dtype=np.float32),
            text=TextAccumulator.from_dict(payload["text"]),
        )


@dataclass
class ContextResult:
    """One context's outcome for one date: a joint vector, or the reason it was skipped."""

    entity_scope: dict
    description: str
    regime_record_id: str | None
    text_vector_count: int
    text_null_count: int
    vector: np.ndarray | None = None
    skip_reason: str | None = None

    @property
    def l2_norm(self) -> float | None:
        if self.vector is None:
            return None
        vector = self.vector.astype(np.float64)
        return math.sqrt(vector @ vector)  # what np.linalg.norm computes, without its checks

    def to_xcom(self) -> dict:
        return {
            "entity_scope": self.entity_scope,
            "description": self.description,
            "regime_record_id": self.regime_record_id,
            "text_vector_count": self.text_vector_count,
            "text_null_count": self.text_null_count,
            "vector": None if self.vector is None else self.vector.tolist(),
            "skip_reason": self.skip_reason,
        }

    @classmethod
    def from_xcom(cls, payload: dict) -> ContextResult:
        vector = payload["vector"]
        return cls(**{**payload, "vector": None if vector is None else np.asarray(vector, dtype=np.float32)})


@dataclass
class DayExtract:
    """A date's extracted contexts, or the data error that fails the date."""

    as_of_date: date
    contexts: list[ExtractedContext]
    error: JointDataError | None = None


def dates_between(first_date: date, last_date: date) -> list[date]:
    return [first_date + timedelta(days=offset) for offset in range((last_date - first_date).days + 1)]


def extract_range(
    runtime_conn, historical_conn, config: RunConfig, first_date: date, last_date: date, *, bulk: bool = False
) -> Iterator[DayExtract]:
    """Read the inputs of every context on every date in ``first_date..last_date``.

    One query reads the regimes (in a helper thread, on ``runtime_conn``, while ``historical_conn`` reads the
    text vectors), one streamed query per distinct filter set reads the text vectors: through
    a server-side cursor with bound parameters, or with ``bulk`` through binary ``COPY`` decoded into numpy
    blocks (:mod:`joint_context.copy_read`; for long ranges). Both give the same bits: the query orders each
    day's rows (time, then id) and they are summed in that order, whatever the batches.
    A malformed vector fails only the date it belongs to: that date comes back with ``error`` set.
    """
    if last_date < first_date:
        raise JointDataError(f"empty date range: {first_date} is after {last_date}")
    dates = dates_between(first_date, last_date)
    day_errors: dict[date, JointDataError] = {}
    text_by_filters: dict[tuple, dict[date, TextAccumulator]] = {}
    read_text = _copy_text_into if bulk else _stream_text_into
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="joint_context_regimes") as regime_reader:
        # runtime_db reads the regimes on its own connection while historical_db sends the text vectors
        regimes_read = regime_reader.submit(_read_regimes, runtime_conn, config, first_date, last_date)
        for filters in dict.fromkeys(context.filters for context in config.contexts):
            accumulators = {day: TextAccumulator(TEXT_EMBEDDINGS_TABLE) for day in dates}
            read_text(historical_conn, config, dict(filters), first_date, last_date, accumulators, day_errors)
            text_by_filters[filters] = accumulators
        historical_conn.rollback()  # end the read-only transaction of the text reads
        regimes = regimes_read.result()

    for day in dates:
        extracted = []
        try:
            for context in config.contexts:
                regime = regimes.get((context.region, day))
                regime_vector = None
                if regime is not None and regime.regime_embedding is not None:
                    regime_vector = decode_vector(
                        regime.regime_embedding, table=REGIMES_TABLE, row_id=regime.regime_record_id
                    )
                extracted.append(ExtractedContext(
                    context=context,
                    entity_scope=config.entity_scope(context),
                    regime_record_id=None if regime is None else regime.regime_record_id,
                    regime_vector=regime_vector,
                    text=text_by_filters[context.filters][day],
                ))
        except VectorDataError as error:
            day_errors.setdefault(day, error)
        yield DayExtract(day, extracted, day_errors.get(day))


def _read_regimes(runtime_conn, config: RunConfig, first_date: date, last_date: date) -> dict:
    regimes = fetch_regimes(runtime_conn, sorted({c.region for c in config.contexts}), first_date, last_date)
    runtime_conn.rollback()  # end the read-only transaction
    return regimes


def _stream_text_into(historical_conn, config: RunConfig, filters: dict, first_date: date, last_date: date,
                      accumulators: dict[date, TextAccumulator], day_errors: dict[date, JointDataError]) -> None:
    """Add one filter set's text vectors to the days' accumulators, streamed with bound parameters
    (:func:`joint_context.store.stream_text_vectors`)."""
    batches = stream_text_vectors(
        historical_conn, config.space, source_type=config.source_type, text_model_id=config.text_model_id,
        filters=filters, first_date=first_date, last_date=last_date,
    )
    for batch in batches:
        for day, rows in _rows_by_date(batch).items():
            if day in day_errors:
                continue
            try:
                accumulators[day].add_rows(rows)
            except VectorDataError as error:
                day_errors[day] = error


def _rows_by_date(batch: list[tuple[date, object, object]]) -> dict[date, list[tuple[str, object]]]:
    grouped: dict[date, list[tuple[str, object]]] = {}
    for day, row_id, vector in batch:
        grouped.setdefault(day, []).append((str(row_id), vector))
    return grouped


def _copy_text_into(historical_conn, config: RunConfig, filters: dict, first_date: date, last_date: date,
                    accumulators: dict[date, TextAccumulator], day_errors: dict[date, JointDataError]) -> None:
    """Add one filter set's text vectors to the days' accumulators, read with binary ``COPY``."""
    by_day_number = {day_number(day): accumulator for day, accumulator in accumulators.items()}

    def add_to_day(number: int, add_rows_of_day) -> None:
        day = day_from_number(number)
        if day not in day_errors:
            try:
                add_rows_of_day(by_day_number[number])
            except VectorDataError as error:
                day_errors[day] = error

    def add_block(block: VectorBlock) -> None:
        utc_days, vectors, row_ids = block.utc_days, block.vectors, block.row_ids
        if (utc_days[1:] < utc_days[:-1]).any():  # the query orders by time; this only guards the grouping
            order = np.argsort(utc_days, kind="stable")  # stable: each day keeps its rows' order
            utc_days, vectors, row_ids = utc_days[order], vectors[order], row_ids[order]
        starts = np.flatnonzero(np.diff(utc_days)) + 1
        for start, stop in zip(np.r_[0, starts], np.r_[starts, len(utc_days)], strict=True):
            add_to_day(int(utc_days[start]),
                       functools.partial(TextAccumulator.add_vectors, vectors=vectors[start:stop],
                                         row_ids=row_ids[start:stop]))

    def emit(item: VectorBlock | IrregularRow) -> None:
        if isinstance(item, VectorBlock):
            add_block(item)
        else:
            add_to_day(item.utc_day, functools.partial(TextAccumulator.add_rows, rows=[(str(item.row_id), item.raw)]))

    copy_text_vectors(
        historical_conn, config.space, source_type=config.source_type, text_model_id=config.text_model_id,
        filters=filters, first_date=first_date, last_date=last_date, emit=emit,
    )


def extract_day(runtime_conn, historical_conn, config: RunConfig, as_of_date: date) -> list[ExtractedContext]:
    """The inputs of every context on one date; raises the date's data error, if any."""
    (day,) = extract_range(runtime_conn, historical_conn, config, as_of_date, as_of_date)
    if day.error is not None:
        raise day.error
    return day.contexts


def aggregate_context(extracted: ExtractedContext, config: RunConfig) -> ContextResult:
    """Fuse one context's regime vector with its mean text vector, or say why it is skipped."""
    result = ContextResult(
        entity_scope=extracted.entity_scope,
        description=extracted.context.describe(),
        regime_record_id=extracted.regime_record_id,
        text_vector_count=extracted.text.vector_count,
        text_null_count=extracted.text.null_count,
    )
    if extracted.regime_record_id is None:
        result.skip_reason = "no regime row"
    elif extracted.regime_vector is None:
        result.skip_reason = f"newest regime row {extracted.regime_record_id!r} has a NULL regime_embedding"
    elif extracted.text.vector_count == 0:
        result.skip_reason = f"no text vectors ({extracted.text.null_count} with a NULL vector)"
    else:
        regime_dimension, text_dimension = extracted.regime_vector.shape[0], extracted.text.dimension
        if regime_dimension != text_dimension:
            raise VectorDataError(
                REGIMES_TABLE, extracted.regime_record_id,
                f"regime vector has dimension {regime_dimension} but the text vectors of "
                f"{TEXT_EMBEDDINGS_TABLE} (e.g. source_id {extracted.text.first_row_id!r}) have {text_dimension}",
            )
        result.vector = config.joint_model.embed(extracted.regime_vector, extracted.text.mean())
    return result


def aggregate_day(extracted: list[ExtractedContext], config: RunConfig) -> list[ContextResult]:
    return [aggregate_context(context, config) for context in extracted]


def joint_rows(results: list[ContextResult]) -> list[JointRow]:
    """What each context should leave in ``joint_embeddings``: its encoded vector, or nothing if skipped."""
    return [
        JointRow(result.entity_scope, None if result.vector is None else encode_vector(result.vector))
        for result in results
    ]


def write_day(historical_conn, config: RunConfig, as_of_date: date, results: list[ContextResult]) -> list[WriteOutcome]:
    """Write the date's joint rows and remove the stale rows of skipped contexts, in one transaction."""
    return replace_joint_rows(
        historical_conn, joint_type=config.space.joint_type, model_id=config.joint_model_id,
        as_of_date=as_of_date, rows=joint_rows(results),
    )


def log_extracted(as_of_date: date, extracted: list[ExtractedContext]) -> None:
    for context in extracted:
        regime = context.regime_record_id or "none"
        log.info(
            "%s %s: regime row %s; %d text vectors, %d with a NULL vector left out",
            as_of_date, context.context.describe(), regime, context.text.vector_count, context.text.null_count,
        )


def log_results(as_of_date: date, results: list[ContextResult]) -> None:
    for result in results:
        if result.vector is None:
            log.info("%s %s: skipped, %s", as_of_date, result.description, result.skip_reason)
        else:
            log.info(
                "%s %s: joint vector from regime %s and %d text vectors, dim %d, L2 norm %.6f",
                as_of_date, result.description, result.regime_record_id, result.text_vector_count,
                result.vector.shape[0], result.l2_norm,
            )


def log_outcomes(as_of_date: date, results: list[ContextResult], outcomes: list[WriteOutcome]) -> dict:
    """Log what the write did per context; return the counts per action and a line per context."""
    counts = {"written": 0, "replaced": 0, "skipped": 0, "removed": 0}
    summary = []
    for result, outcome in zip(results, outcomes, strict=True):
        if outcome.action == "written":
            log.info("%s %s: written", as_of_date, result.description)
        elif outcome.action == "replaced":
            log.info("%s %s: replaced %d previous row(s)", as_of_date, result.description, outcome.previous_rows)
        elif outcome.action == "removed":
            log.info(
                "%s %s: skipped (%s); removed %d stale row(s) of an earlier run",
                as_of_date, result.description, result.skip_reason, outcome.previous_rows,
            )
        else:
            log.info("%s %s: skipped (%s)", as_of_date, result.description, result.skip_reason)
        counts["skipped" if outcome.action in ("removed", "nothing") else outcome.action] += 1
        counts["removed"] += outcome.action == "removed"
        summary.append({
            "entity_scope": result.entity_scope,
            "action": "skipped" if outcome.action == "nothing" else outcome.action,
            "previous_rows": outcome.previous_rows,
            "skip_reason": result.skip_reason,
            "text_vector_count": result.text_vector_count,
            "l2_norm": result.l2_norm,
        })
    log.info(
        "%s: %d written, %d replaced, %d skipped (%d stale rows removed)",
        as_of_date, counts["written"], counts["replaced"], counts["skipped"], counts["removed"],
    )
    return {"as_of_date": as_of_date.isoformat(), "counts": counts, "contexts": summary}
