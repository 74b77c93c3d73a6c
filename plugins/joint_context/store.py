"""Reading regimes and text vectors, and writing joint rows, over a DB-API connection (no Airflow import).

Works with psycopg 3 (Airflow 3's postgres provider) and psycopg2 (Airflow 2.11's). Every query is a file of
the package's ``sql/`` folder (package data); values reach the driver only as bound parameters.
"""

from __future__ import annotations

import functools
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from importlib.resources.abc import Traversable

from joint_context.spaces import JointSpace, canonical_json, joint_lock_keys

SQL_PACKAGE_DIR = "sql"
VECTOR_INDEX_TABLE = "joint_vector_index"  # optional: include/sql/schema/optional_pgvector.sql
TEXT_FETCH_BATCH_ROWS = 2000


def sql_files() -> Traversable:
    """The package's query folder, wherever the package is installed (a wheel, an editable install, plugins/)."""
    return resources.files("joint_context") / SQL_PACKAGE_DIR


@functools.cache
def read_sql(name: str) -> str:
    """The text of the query file ``joint_context/sql/<name>``."""
    return (sql_files() / name).read_text(encoding="utf-8")


def utc_day_start(day: date) -> datetime:
    """``day`` 00:00 UTC as an aware datetime: bound as timestamptz, so no session TimeZone applies."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def set_statement_timeout(conn, timeout: timedelta) -> None:
    """Make the server cancel any later statement of this session running longer than ``timeout`` (0: no limit)."""
    with conn.cursor() as cursor:
        cursor.execute(read_sql("set_statement_timeout.sql"),
                       {"milliseconds": str(int(timeout.total_seconds() * 1000))})
    conn.commit()  # a session setting: it outlives this transaction


@dataclass(frozen=True)
class RegimeRow:
    region: str
    as_of_date: date
    regime_record_id: str
    regime_embedding: bytes | None


def fetch_regimes(
    runtime_conn, regions: Sequence[str], first_date: date, last_date: date
) -> dict[tuple[str, date], RegimeRow]:
    """The newest regime row per ``(region, as_of_date)`` in the inclusive date range, in one query."""
    with _binary_result_cursor(runtime_conn) as cursor:
        cursor.execute(
            read_sql("select_regimes.sql"),
            {"regions": list(regions), "first_date": first_date, "last_date": last_date},
        )
        rows = cursor.fetchall()
    return {
        (region, as_of_date): RegimeRow(region, as_of_date, record_id, None if raw is None else bytes(raw))
        for region, as_of_date, record_id, raw in rows
    }


def text_query_params(space: JointSpace, source_type: str, text_model_id: str, filters: dict[str, str],
                      first_date: date, last_date: date) -> dict:
    """The text query's parameters for the UTC days ``first_date..last_date`` (every filter of the space named)."""
    return {
        "source_type": source_type,
        "text_model_id": text_model_id,
        "window_start": utc_day_start(first_date),
        "window_end": utc_day_start(last_date + timedelta(days=1)),
        **{name: filters.get(name) for name in space.filter_names},
    }


def stream_text_vectors(
    historical_conn,
    space: JointSpace,
    *,
    source_type: str,
    text_model_id: str,
    filters: dict[str, str],
    first_date: date,
    last_date: date,
    batch_rows: int = TEXT_FETCH_BATCH_ROWS,
) -> Iterator[list[tuple[date, str, bytes | memoryview | None]]]:
    """Yield batches of ``(utc_date, source_id, vector)`` for the UTC days ``first_date..last_date``.

    The rows are streamed, so memory stays flat however large a day is: with psycopg 3 in one query whose
    rows arrive in chunks of ``batch_rows`` (libpq's chunked-rows mode), with psycopg2 through a server-side
    cursor. Values are bound parameters either way.
    """
    params = text_query_params(space, source_type, text_model_id, filters, first_date, last_date)
    for batch in _text_row_batches(historical_conn, space, params, batch_rows):
        # the query returns the event's bigint id, which is the text row's source_id
        yield [(utc_timestamp.astimezone(UTC).date(), str(row_id), vector)
               for utc_timestamp, row_id, vector in batch]


def _is_psycopg3(conn) -> bool:
    try:
        import psycopg
    except ImportError:  # Airflow 2.11's provider brings psycopg2 only
        return False
    return isinstance(conn, psycopg.Connection)


def _binary_result_cursor(conn):
    """A cursor receiving results in binary where the driver can (psycopg 3): vectors arrive as their raw
    bytes instead of hex text, half the bytes on the wire and no decoding."""
    return conn.cursor(binary=True) if _is_psycopg3(conn) else conn.cursor()


binary_result_cursor = _binary_result_cursor  # for the other readers of the package (search)


def _text_row_batches(conn, space: JointSpace, params: dict, batch_rows: int) -> Iterator[list[tuple]]:
    """The text query's rows in batches of at most ``batch_rows``, never all of them in memory at once."""
    if _is_psycopg3(conn):
        with conn.cursor() as cursor:
            rows = cursor.stream(read_sql(space.text_sql), params, binary=True, size=batch_rows)
            while batch := list(itertools.islice(rows, batch_rows)):
                yield batch
        return
    cursor = conn.cursor(name=f"joint_context_text_{uuid.uuid4().hex}")
    try:
        cursor.execute(read_sql(space.text_sql), params)
        while batch := cursor.fetchmany(batch_rows):
            yield batch
            if len(batch) < batch_rows:
                break  # the last batch: no FETCH that would only say so
    finally:
        cursor.close()


@dataclass(frozen=True)
class JointRow:
    """What one context should leave in ``joint_embeddings``: a vector, or nothing (``vector_bytes=None``)."""

    entity_scope: dict
    vector_bytes: bytes | None


@dataclass(frozen=True)
class WriteOutcome:
    entity_scope: dict
    action: str  # written | replaced | removed | nothing
    previous_rows: int


def replace_joint_rows(
    historical_conn, *, joint_type: str, model_id: str, as_of_date: date, rows: Sequence[JointRow],
    case_insensitive: Sequence[tuple[str, str]] = (),
) -> list[WriteOutcome]:
    """Make each row's key hold exactly that row (or nothing), all in one transaction: one date of
    :func:`replace_joint_rows_for_dates` (what the DAG's write task does)."""
    return replace_joint_rows_for_dates(
        historical_conn, joint_type=joint_type, model_id=model_id, rows_by_date={as_of_date: rows},
        case_insensitive=case_insensitive,
    )[as_of_date]


def replace_joint_rows_for_dates(
    historical_conn, *, joint_type: str, model_id: str, rows_by_date: Mapping[date, Sequence[JointRow]],
    case_insensitive: Sequence[tuple[str, str]] = (),
) -> dict[date, list[WriteOutcome]]:
    """Make each row's key hold exactly that row (or nothing), for every date given, all in one transaction.

    The key is ``(joint_type, model_id, as_of_date, entity_scope)``. The table has no unique key, so
    writers of one key are serialised by transaction-scoped advisory locks, all taken in one statement in
    key order to rule out deadlocks; then every existing row of the keys (legacy duplicates included) is
    deleted, each key looked up by index, and the new rows inserted: three statements whatever the number of
    dates and contexts. On any error the transaction is rolled back and the previous rows stay. Returns each
    date's outcomes, in the order of its rows.

    :param case_insensitive: ``(filters_key, filter_name)`` of the filters the space matches ignoring case; the
        keys hold them in lower case, and rows an earlier writer keyed in another case are replaced too (one more
        query per filter, before the delete).
    """
    keys: list[tuple[date, str, JointRow]] = []  # in the order of the outcomes; the DELETE numbers them from 1
    for as_of_date, rows in rows_by_date.items():
        scopes = [canonical_json(row.entity_scope) for row in rows]
        if len(set(scopes)) != len(scopes):
            raise ValueError(f"one entity_scope appears twice among the rows to write for {as_of_date}: {scopes}")
        keys += [(as_of_date, scope, row) for scope, row in zip(scopes, rows, strict=True)]
    new_rows = [(as_of_date, scope, row.vector_bytes) for as_of_date, scope, row in keys
                if row.vector_bytes is not None]
    lock_keys = sorted(joint_lock_keys(joint_type, model_id, [(as_of_date, scope) for as_of_date, scope, _row in keys]))
    type_and_model = {"joint_type": joint_type, "model_id": model_id}
    try:
        with historical_conn.cursor() as cursor:
            _send_lists_in_binary(cursor)
            cursor.execute(read_sql("lock_joint_keys.sql"), {"lock_keys": lock_keys})
            doomed = [(as_of_date, scope, position) for position, (as_of_date, scope, _row) in enumerate(keys, 1)]
            doomed += _case_variants(cursor, type_and_model, keys, case_insensitive)
            cursor.execute(read_sql("delete_joint_rows.sql"), {
                **type_and_model,
                "as_of_dates": [as_of_date for as_of_date, _scope, _position in doomed],
                "entity_scopes": [scope for _as_of_date, scope, _position in doomed],
                "positions": [position for _as_of_date, _scope, position in doomed],
            })
            deleted = Counter(position for (position,) in cursor.fetchall())
            if new_rows:
                cursor.execute(read_sql("insert_joint_rows.sql"), {
                    **type_and_model,
                    "as_of_dates": [as_of_date for as_of_date, _scope, _vector in new_rows],
                    "entity_scopes": [scope for _as_of_date, scope, _vector in new_rows],
                    "vectors": [vector for _as_of_date, _scope, vector in new_rows],
                })
                _copy_to_vector_index(cursor, [joint_id for (joint_id,) in cursor.fetchall()])
        historical_conn.commit()
    except BaseException:
        historical_conn.rollback()
        raise
    outcomes: dict[date, list[WriteOutcome]] = {as_of_date: [] for as_of_date in rows_by_date}
    for position, (as_of_date, _scope, row) in enumerate(keys, start=1):
        previous_rows = deleted[position]
        if row.vector_bytes is not None:
            action = "replaced" if previous_rows else "written"
        else:
            action = "removed" if previous_rows else "nothing"
        outcomes[as_of_date].append(WriteOutcome(row.entity_scope, action, previous_rows))
    return outcomes


def _copy_to_vector_index(cursor, joint_ids: list[int]) -> None:
    """When the optional pgvector side table exists (one catalogue lookup per write transaction), copy the rows
    just written into it, in this transaction; the copies of the rows deleted went with them (ON DELETE CASCADE)."""
    if vector_index_present(cursor):
        cursor.execute(read_sql("insert_vector_index_copies.sql"), {"joint_ids": joint_ids})


def vector_index_present(cursor) -> bool:
    """Whether the optional pgvector side table exists (a catalogue lookup, no table read)."""
    cursor.execute(read_sql("select_vector_index_present.sql"), {"table_name": VECTOR_INDEX_TABLE})
    (present,) = cursor.fetchone()
    return bool(present)


def _case_variants(cursor, type_and_model: dict, keys: list[tuple[date, str, JointRow]],
                   case_insensitive: Sequence[tuple[str, str]]) -> list[tuple[date, str, int]]:
    """``(as_of_date, stored scope, key number)`` of the rows that hold one of ``keys`` in another case of a
    case-insensitive filter: the key replaces them as it replaces its duplicates."""
    if not case_insensitive or not keys:
        return []
    positions = {(as_of_date, scope): position for position, (as_of_date, scope, _row) in enumerate(keys, 1)}
    variants = []
    for filters_key, filter_name in case_insensitive:
        cursor.execute(read_sql("select_case_variant_scopes.sql"), {
            **type_and_model, "filters_key": filters_key, "filter_name": filter_name,
            "as_of_dates": sorted({as_of_date for as_of_date, _scope, _row in keys}),
        })
        for as_of_date, stored_text in cursor.fetchall():
            scope = json.loads(stored_text)
            scope[filters_key] = {**scope[filters_key], filter_name: scope[filters_key][filter_name].lower()}
            position = positions.get((as_of_date, canonical_json(scope)))
            if position is not None:
                variants.append((as_of_date, stored_text, position))
    return variants


def _send_lists_in_binary(cursor) -> None:
    """With psycopg 3, send this cursor's list parameters (the arrays of keys and vectors) in binary: dumping a
    list of vectors as an escaped text array costs more than the write itself. psycopg2 has no such choice."""
    adapters = getattr(cursor, "adapters", None)
    if adapters is not None:
        from psycopg.types.array import ListBinaryDumper

        adapters.register_dumper(list, ListBinaryDumper)
