"""Extract: read a date range's regimes and text vectors into per-scope sums (no Airflow import).

One query reads the regimes, one streamed query per distinct filter set reads the text vectors; the DAG asks for
a range of one day, the bulk backfill and the rebuild DAG for years. What comes out is O(dimension) per scope:
the regime vector and the text sum and count.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from joint_context.config import RegionScope, RunConfig
from joint_context.copy_read import IrregularRow, VectorBlock, copy_text_vectors, day_from_number, day_number
from joint_context.errors import JointDataError, VectorDataError
from joint_context.joint import TextAccumulator
from joint_context.spaces import REGIMES_TABLE, TEXT_EMBEDDINGS_TABLE
from joint_context.store import fetch_regimes, stream_text_vectors
from joint_context.vectors import decode_vector


@dataclass
class ExtractedScope:
    """One scope's inputs for one date: the newest regime (if any) and the text sum and counts."""

    scope: RegionScope
    entity_scope: dict
    regime_record_id: str | None
    regime_vector: np.ndarray | None
    text: TextAccumulator

    def to_xcom(self) -> dict:
        return {
            "region": self.scope.region,
            "filters": self.scope.filter_dict,
            "entity_scope": self.entity_scope,
            "regime_record_id": self.regime_record_id,
            "regime_vector": None if self.regime_vector is None else self.regime_vector.tolist(),
            "text": self.text.to_dict(),
        }

    @classmethod
    def from_xcom(cls, payload: dict) -> ExtractedScope:
        regime_vector = payload["regime_vector"]
        return cls(
            scope=RegionScope(payload["region"], tuple(sorted(payload["filters"].items()))),
            entity_scope=payload["entity_scope"],
            regime_record_id=payload["regime_record_id"],
            regime_vector=None if regime_vector is None else np.asarray(regime_vector, dtype=np.float32),
            text=TextAccumulator.from_dict(payload["text"]),
        )


@dataclass
class DayExtract:
    """A date's extracted scopes, or the data error that fails the date."""

    as_of_date: date
    scopes: list[ExtractedScope]
    error: JointDataError | None = None


def dates_between(first_date: date, last_date: date) -> list[date]:
    return [first_date + timedelta(days=offset) for offset in range((last_date - first_date).days + 1)]


def extract_range(
    runtime_conn, historical_conn, config: RunConfig, first_date: date, last_date: date, *, bulk: bool = False
) -> Iterator[DayExtract]:
    """Read the inputs of every scope on every date in ``first_date..last_date``.

    One query reads the regimes (in a helper thread, on ``runtime_conn``, while ``historical_conn`` reads the
    text vectors), one streamed query per distinct filter set reads the text vectors: through
    a server-side cursor with bound parameters, or with ``bulk`` through binary ``COPY`` decoded into numpy
    blocks (:mod:`joint_context.copy_read`; for long ranges). Both give the same bits: the query orders each
    day's rows (time, then id) and they are summed in that order, whatever the batches.
    A malformed vector fails only the date it belongs to: that date comes back with ``error`` set.
    """
    if last_date < first_date:
        raise JointDataError(f"empty date range: {first_date} is after {last_date}")
    if last_date == date.max:  # the day's window ends at the next day
        raise JointDataError(f"as_of_date {last_date} is the last date there is; its day has no end to bound it")
    dates = dates_between(first_date, last_date)
    day_errors: dict[date, JointDataError] = {}
    text_by_filters: dict[tuple, dict[date, TextAccumulator]] = {}
    read_text = _copy_text_into if bulk else _stream_text_into
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="joint_context_regimes") as regime_reader:
        # runtime_db reads the regimes on its own connection while historical_db sends the text vectors
        regimes_read = regime_reader.submit(_read_regimes, runtime_conn, config, first_date, last_date)
        for filters in dict.fromkeys(scope.filters for scope in config.contexts):
            accumulators = {day: TextAccumulator(TEXT_EMBEDDINGS_TABLE) for day in dates}
            read_text(historical_conn, config, dict(filters), first_date, last_date, accumulators, day_errors)
            text_by_filters[filters] = accumulators
        historical_conn.rollback()  # end the read-only transaction of the text reads
        regimes = regimes_read.result()

    for day in dates:
        extracted = []
        try:
            for scope in config.contexts:
                regime = regimes.get((scope.region, day))
                regime_vector = None
                if regime is not None and regime.regime_embedding is not None:
                    regime_vector = decode_vector(
                        regime.regime_embedding, table=REGIMES_TABLE, row_id=regime.regime_record_id
                    )
                extracted.append(ExtractedScope(
                    scope=scope,
                    entity_scope=config.entity_scope(scope),
                    regime_record_id=None if regime is None else regime.regime_record_id,
                    regime_vector=regime_vector,
                    text=text_by_filters[scope.filters][day],
                ))
        except VectorDataError as error:
            day_errors.setdefault(day, error)
        yield DayExtract(day, extracted, day_errors.get(day))


def extract_day(runtime_conn, historical_conn, config: RunConfig, as_of_date: date) -> list[ExtractedScope]:
    """The inputs of every scope on one date; raises the date's data error, if any."""
    (day,) = extract_range(runtime_conn, historical_conn, config, as_of_date, as_of_date)
    if day.error is not None:
        raise day.error
    return day.scopes


def _read_regimes(runtime_conn, config: RunConfig, first_date: date, last_date: date) -> dict:
    regimes = fetch_regimes(runtime_conn, sorted({scope.region for scope in config.contexts}), first_date, last_date)
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
