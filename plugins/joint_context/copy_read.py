"""The bulk read: a range of text vectors streamed with binary ``COPY`` and decoded into numpy blocks.

``COPY (<the text query>) TO STDOUT (FORMAT BINARY)`` sends each row as ``(timestamptz, bigint, bytea)``:
the event's timestamp, its id (the text row's ``source_id``) and the vector. Every row whose vector has the
common byte length has the same size on the wire, so runs of such rows are decoded with one structured numpy
view, with no Python object per row; rows that differ (a NULL vector, another length) are decoded one by one
and handed over as :class:`IrregularRow` for the caller to count or reject. Memory stays bounded by
``chunk_bytes`` however large the range.

Why ``COPY`` rather than a cursor: PostgreSQL runs the query with parallel workers (a cursor never does)
and sends no per-row protocol message besides the data. ``COPY`` takes no bind parameters, so the driver
merges the values into the statement with its own quoting (psycopg's client-side binding, the same as
psycopg2 does for every query); the per-date DAG tasks keep server-side parameters. No Airflow import.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from joint_context.spaces import JointSpace
from joint_context.store import read_sql, text_query_params

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
POSTGRES_EPOCH = date(2000, 1, 1)  # binary timestamptz: microseconds since 2000-01-01 00:00 UTC
MICROSECONDS_PER_DAY = 86_400_000_000
COLUMNS = 3  # timestamp, row id, vector
CHUNK_BYTES = 4 << 20
BLOCK_ROWS = 1024
ADAPT_AFTER_ROWS = 2  # this many rows in a row of another size make that size the common one

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")


@dataclass(frozen=True)
class VectorBlock:
    """Consecutive rows whose vectors all have the common byte length (``vectors`` is a read-only view)."""

    utc_days: np.ndarray  # int64: days since 2000-01-01 (UTC)
    row_ids: np.ndarray  # int64
    vectors: np.ndarray  # float32, shape (rows, dimension), little-endian as stored


@dataclass(frozen=True)
class IrregularRow:
    """A row whose vector is NULL or does not have the common byte length."""

    utc_day: int
    row_id: int
    raw: bytes | None


def day_number(day: date) -> int:
    """``day`` as the decoder's ``utc_days`` counts it."""
    return (day - POSTGRES_EPOCH).days


def day_from_number(number: int) -> date:
    return POSTGRES_EPOCH + timedelta(days=number)


class BinaryCopyDecoder:
    """Decode a ``COPY ... (FORMAT BINARY)`` stream of ``(timestamptz, bigint, bytea)`` rows, fed in pieces.

    Whatever the pieces (one row each from libpq, or any split), the decoder emits the same rows in the
    same order; blocks hold at most ``block_rows`` rows.

    :param emit: called with each :class:`VectorBlock` and :class:`IrregularRow`, in stream order.
    """

    def __init__(self, emit: Callable[[VectorBlock | IrregularRow], None], *,
                 chunk_bytes: int = CHUNK_BYTES, block_rows: int = BLOCK_ROWS) -> None:
        self._emit = emit
        self._chunk_bytes = chunk_bytes
        self._block_rows = block_rows
        self._pending = bytearray()
        self._header_read = False
        self._finished = False
        self._vector_bytes: int | None = None
        self._row_dtype: np.dtype | None = None
        self._other_size: tuple[int, int] = (0, 0)  # (vector bytes, rows in a row of that size) off the common one
        self.rows = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Take the next piece of the stream; decodes once ``chunk_bytes`` are waiting."""
        self._pending += data
        if len(self._pending) >= self._chunk_bytes:
            self._decode(final=False)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """The file-like face of :meth:`feed`, for psycopg2's ``copy_expert``."""
        self.feed(data)
        return len(data)

    def finish(self) -> None:
        """Decode what is left; raises if the stream stopped before its trailer."""
        self._decode(final=True)
        if not self._finished:
            raise ValueError("the COPY stream ended before its trailer")

    def _decode(self, *, final: bool) -> None:
        data = bytes(self._pending)  # immutable: the blocks emitted below are views of it
        position = 0
        if not self._header_read:
            position = self._read_header(data)
            if position is None:
                if final:
                    raise ValueError("the COPY stream ended inside its header")
                return
            self._header_read = True
        while not self._finished:
            position, progressed = self._decode_regular_rows(data, position)
            if progressed:
                continue
            next_position = self._decode_one_row(data, position)
            if next_position is None:
                break  # an incomplete row: wait for more data
            position = next_position
        self._pending = bytearray(data[position:])
        if self._finished and self._pending:
            raise ValueError(f"{len(self._pending)} bytes after the COPY trailer")

    def _read_header(self, data: bytes) -> int | None:
        if len(data) < len(COPY_SIGNATURE) + 8:
            return None
        if not data.startswith(COPY_SIGNATURE):
            raise ValueError("not a binary COPY stream (bad signature)")
        extension_length = _INT32.unpack_from(data, len(COPY_SIGNATURE) + 4)[0]
        header_end = len(COPY_SIGNATURE) + 8 + extension_length
        return header_end if len(data) >= header_end else None

    def _decode_regular_rows(self, data: bytes, position: int) -> tuple[int, bool]:
        """Emit the next run of rows of the common size (up to ``block_rows``) as one block."""
        if self._row_dtype is None:
            return position, False
        available = min((len(data) - position) // self._row_dtype.itemsize, self._block_rows)
        if available == 0:
            return position, False
        rows = np.frombuffer(data, dtype=self._row_dtype, count=available, offset=position)
        regular = ((rows["columns"] == COLUMNS) & (rows["timestamp_length"] == 8)
                   & (rows["row_id_length"] == 8) & (rows["vector_length"] == self._vector_bytes))
        count = available if regular.all() else int(np.argmin(regular))
        if count == 0:
            return position, False
        self._other_size = (0, 0)  # the common size goes on: a run of another size starts over
        rows = rows[:count]
        self._emit(VectorBlock(
            utc_days=rows["timestamp"].astype(np.int64) // MICROSECONDS_PER_DAY,
            row_ids=rows["row_id"].astype(np.int64),
            vectors=rows["vector"],
        ))
        self.rows += count
        return position + count * self._row_dtype.itemsize, True

    def _decode_one_row(self, data: bytes, position: int) -> int | None:
        """Decode one row (or the trailer) at ``position``; ``None`` if it is not all there yet."""
        if len(data) - position < 2:
            return None
        (columns,) = _INT16.unpack_from(data, position)
        position += 2
        if columns == -1:
            self._finished = True
            return position
        if columns != COLUMNS:
            raise ValueError(f"a COPY row with {columns} columns, expected {COLUMNS}")
        values: list[bytes | None] = []
        for _ in range(COLUMNS):
            if len(data) - position < 4:
                return None
            (length,) = _INT32.unpack_from(data, position)
            position += 4
            if length < 0:
                values.append(None)
                continue
            if len(data) - position < length:
                return None
            values.append(data[position:position + length])
            position += length
        timestamp, row_id, raw = values
        if timestamp is None or row_id is None or len(timestamp) != 8 or len(row_id) != 8:
            raise ValueError("a COPY row without an 8-byte timestamp and id")
        if raw and len(raw) % 4 == 0 and len(raw) != self._vector_bytes:
            self._count_other_size(len(raw))
        self._emit(IrregularRow(
            utc_day=_INT64.unpack(timestamp)[0] // MICROSECONDS_PER_DAY,
            row_id=_INT64.unpack(row_id)[0],
            raw=raw,
        ))
        self.rows += 1
        return position

    def _count_other_size(self, vector_bytes: int) -> None:
        """Follow the stream's common size: the first size seen, then any size that several rows in a row have
        (a single odd row first, or a change of model, must not leave every later row to the slow path)."""
        size, run = self._other_size
        run = run + 1 if size == vector_bytes else 1
        self._other_size = (vector_bytes, run)
        if self._row_dtype is None or run >= ADAPT_AFTER_ROWS:
            self._set_vector_bytes(vector_bytes)
            self._other_size = (0, 0)

    def _set_vector_bytes(self, vector_bytes: int) -> None:
        self._vector_bytes = vector_bytes
        self._row_dtype = np.dtype([
            ("columns", ">i2"),
            ("timestamp_length", ">i4"), ("timestamp", ">i8"),
            ("row_id_length", ">i4"), ("row_id", ">i8"),
            ("vector_length", ">i4"), ("vector", "<f4", (vector_bytes // 4,)),
        ])


def copy_text_vectors(
    historical_conn,
    space: JointSpace,
    *,
    source_type: str,
    text_model_id: str,
    filters: dict[str, str],
    first_date: date,
    last_date: date,
    emit: Callable[[VectorBlock | IrregularRow], None],
) -> int:
    """Stream the text vectors of the UTC days ``first_date..last_date`` to ``emit``; return the row count.

    The same query as :func:`joint_context.store.stream_text_vectors` (``space.text_copy_sql`` wraps
    ``space.text_sql`` in ``COPY``); works with psycopg 3 and psycopg2.
    """
    params = text_query_params(space, source_type, text_model_id, filters, first_date, last_date)
    decoder = BinaryCopyDecoder(emit)
    with historical_conn.cursor() as cursor:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(cursor.mogrify(read_sql(space.text_copy_sql), params), decoder)
        else:
            with cursor.copy(read_sql(space.text_copy_sql), params) as copy:
                for data in copy:
                    decoder.feed(data)
    decoder.finish()
    return decoder.rows
