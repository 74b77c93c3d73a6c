"""The bulk read (binary COPY into numpy blocks) against a real PostgreSQL: the same rows, sums and errors as
the cursor read the DAG uses, however the stream is cut."""

from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from devtools.seed import insert_macro_event, insert_news_article, insert_regime, utc
from joint_context import pipeline
from joint_context.config import RunConfig
from joint_context.copy_read import BinaryCopyDecoder, IrregularRow, VectorBlock, copy_text_vectors, day_number
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from joint_context.store import stream_text_vectors
from joint_context.vectors import encode_vector

FIRST_DAY = date(2025, 1, 1)
DAYS = [FIRST_DAY + timedelta(days=offset) for offset in range(4)]
HOSTILE = "US' OR '1'='1"


def seed_days(historical_conn, rng) -> dict[str, bytes | None]:
    """Four days of US/DE macro events with regular vectors, NULLs, another dimension and odd bytes."""
    stored: dict[str, bytes | None] = {}
    for day in DAYS:
        for hour in range(6):
            vector = rng.normal(size=8).astype(np.float32)
            source_id = insert_macro_event(historical_conn, timestamp=utc(day, hour), vector=vector,
                                           country="US" if hour % 3 else "DE")
            stored[source_id] = vector.tobytes()
    stored[insert_macro_event(historical_conn, timestamp=utc(DAYS[1], 7), vector=None, country="US")] = None
    odd = insert_macro_event(historical_conn, timestamp=utc(DAYS[2], 7), vector=np.ones(8), country="US")
    historical_conn.execute("UPDATE text_embeddings SET vector = '\\x0102'::bytea WHERE source_id = %s", (odd,))
    stored[odd] = b"\x01\x02"
    wide = insert_macro_event(historical_conn, timestamp=utc(DAYS[3], 7), vector=np.ones(5), country="DE")
    stored[wide] = encode_vector(np.ones(5))
    return stored


def decoded_rows(dsn: str, first_date: date, last_date: date, **filters) -> list[tuple]:
    """``(utc_day, source_id, raw)`` in the order the decoder hands them over."""
    items: list = []
    with psycopg.connect(dsn) as conn:
        copy_text_vectors(conn, REGIME_MACRO_V0, source_type="MACRO", text_model_id="text-macro-v1",
                          filters=filters, first_date=first_date, last_date=last_date, emit=items.append)
    rows = []
    for item in items:
        if isinstance(item, IrregularRow):
            rows.append((item.utc_day, str(item.row_id), item.raw))
        else:
            assert isinstance(item, VectorBlock)
            rows.extend((int(day), str(row_id), vector.tobytes())
                        for day, row_id, vector in zip(item.utc_days, item.row_ids, item.vectors, strict=True))
    return rows


def test_copy_read_returns_the_cursor_rows_with_their_exact_bytes(clean_databases, historical_conn):
    stored = seed_days(historical_conn, np.random.default_rng(1))
    rows = decoded_rows(clean_databases.historical_dsn, DAYS[0], DAYS[-1])
    assert sorted(source_id for _day, source_id, _raw in rows) == sorted(stored)
    for _utc_day, source_id, raw in rows:
        assert raw == stored[source_id]
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        batches = stream_text_vectors(conn, REGIME_MACRO_V0, source_type="MACRO", text_model_id="text-macro-v1",
                                      filters={}, first_date=DAYS[0], last_date=DAYS[-1])
        cursor_rows = sorted((day_number(day), source_id, None if raw is None else bytes(raw))
                             for batch in batches for day, source_id, raw in batch)
    assert sorted(rows, key=lambda row: (row[0], row[1], row[2] or b"")) == sorted(
        cursor_rows, key=lambda row: (row[0], row[1], row[2] or b""))


@pytest.mark.parametrize("piece_bytes", [1, 7, 100, 1 << 20])
def test_the_decoder_gives_the_same_rows_however_the_stream_is_cut(clean_databases, historical_conn, piece_bytes):
    seed_days(historical_conn, np.random.default_rng(2))
    with psycopg.connect(clean_databases.historical_dsn) as conn, conn.cursor() as cursor:
        with cursor.copy('COPY (SELECT me."timestamp", me.event_id, te.vector FROM macro_events me JOIN '
                         "text_embeddings te ON te.source_id = me.event_id::text ORDER BY me.event_id) "
                         "TO STDOUT (FORMAT BINARY)") as copy:
            stream = b"".join(bytes(block) for block in copy)

    def decode(pieces, **options) -> list[tuple]:
        items: list = []
        decoder = BinaryCopyDecoder(items.append, **options)
        for piece in pieces:
            decoder.feed(piece)
        decoder.finish()
        flat = []
        for item in items:
            if isinstance(item, IrregularRow):
                flat.append((item.utc_day, item.row_id, item.raw))
            else:
                assert len(item.row_ids) <= options.get("block_rows", 1024)
                flat.extend((int(day), int(row_id), vector.tobytes())
                            for day, row_id, vector in zip(item.utc_days, item.row_ids, item.vectors, strict=True))
        return flat

    whole = decode([stream])
    assert len(whole) == 4 * 6 + 3
    assert [row_id for _day, row_id, _raw in whole] == sorted(row_id for _day, row_id, _raw in whole)
    pieces = [stream[start:start + piece_bytes] for start in range(0, len(stream), piece_bytes)]
    assert decode(pieces, chunk_bytes=64, block_rows=3) == whole
    with pytest.raises(ValueError, match="before its trailer"):
        decode([stream[:-2]])


def test_bulk_extract_gives_the_cursor_extract_bit_for_bit_and_the_same_day_errors(clean_databases, runtime_conn,
                                                                                     historical_conn):
    seed_days(historical_conn, np.random.default_rng(3))
    for day in DAYS:
        insert_regime(runtime_conn, region="US", as_of_date=day, vector=np.ones(8))
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [
        {"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}, {"region": "US"},
        {"region": "JP", "country": HOSTILE}]}, ["contexts"])

    def extract(bulk: bool):
        with psycopg.connect(clean_databases.runtime_dsn) as runtime, \
                psycopg.connect(clean_databases.historical_dsn) as historical:
            return list(pipeline.extract_range(runtime, historical, config, DAYS[0], DAYS[-1], bulk=bulk))

    bulk, cursor = extract(True), extract(False)
    assert [day.as_of_date for day in bulk] == DAYS
    for bulk_day, cursor_day in zip(bulk, cursor, strict=True):
        assert str(bulk_day.error) == str(cursor_day.error)
        if bulk_day.error:
            continue  # a failed day is never aggregated: what was summed before the bad row does not matter
        for bulk_context, cursor_context in zip(bulk_day.scopes, cursor_day.scopes, strict=True):
            assert bulk_context.text.to_dict() == cursor_context.text.to_dict()
    assert [day.as_of_date for day in bulk if day.error] == [DAYS[2], DAYS[3]]
    assert "vector has 2 bytes, not a multiple of 4" in str(bulk[2].error)
    assert "vector has dimension 5, expected 8" in str(bulk[3].error)
    us_text = bulk[1].scopes[0].text
    assert (us_text.vector_count, us_text.null_count) == (4, 1)
    assert all(context.text.vector_count == 0 for day in bulk for context in day.scopes[3:])  # hostile: no rows


def test_bulk_extract_reads_news_the_same_as_the_cursor(clean_databases, runtime_conn, historical_conn):
    rng = np.random.default_rng(4)
    for day in DAYS:
        for minute in range(0, 600, 7):
            insert_news_article(historical_conn, timestamp=utc(day, minute // 60, minute % 60),
                                vector=rng.normal(size=8).astype(np.float32), language=["en", "EN", "de"][minute % 3])
    config = RunConfig.from_params(REGIME_CONTEXT_V0, {"contexts": [
        {"region": "US", "language": "en"}, {"region": "EU"}]}, ["contexts"])

    def sums(bulk: bool):
        with psycopg.connect(clean_databases.runtime_dsn) as runtime, \
                psycopg.connect(clean_databases.historical_dsn) as historical:
            return [[context.text.to_dict() for context in day.scopes]
                    for day in pipeline.extract_range(runtime, historical, config, DAYS[0], DAYS[-1], bulk=bulk)]

    bulk = sums(True)
    assert bulk == sums(False)
    assert [day[0]["vector_count"] for day in bulk] == [58, 58, 58, 58]  # en + EN of 86 articles a day


@pytest.mark.parametrize("odd_first", [b"\x00\x00\x80\x3f" * 2, b"\x01\x02\x03"])
def test_one_odd_vector_first_leaves_the_rest_of_the_range_decoded_in_blocks(clean_databases, historical_conn,
                                                                           odd_first):
    """A vector of another size at the start of a range (a test row, a torn write) must not send every later
    row down the row-by-row path: the decoder follows the size that most rows have."""
    rng = np.random.default_rng(4)
    odd = insert_macro_event(historical_conn, timestamp=utc(DAYS[0], 0), vector=np.ones(2), country="US")
    historical_conn.execute("UPDATE text_embeddings SET vector = %s WHERE source_id = %s", (odd_first, odd))
    regular = rng.normal(size=(3000, 16)).astype(np.float32)
    historical_conn.execute(
        "WITH events AS (INSERT INTO macro_events (event_type, \"timestamp\", country, description)"
        " SELECT 'CPI', %s::timestamptz + make_interval(secs => n), 'US', 'generated'"
        " FROM generate_series(1, %s) AS n RETURNING event_id, \"timestamp\")"
        " INSERT INTO text_embeddings (source_type, source_id, model_id, vector)"
        " SELECT 'MACRO', event_id::text, 'text-macro-v1', (%s::bytea[])[row_number() OVER (ORDER BY \"timestamp\")]"
        " FROM events", (utc(DAYS[0], 1), len(regular), [vector.tobytes() for vector in regular]))
    items: list = []
    with psycopg.connect(clean_databases.historical_dsn) as conn:
        copy_text_vectors(conn, REGIME_MACRO_V0, source_type="MACRO", text_model_id="text-macro-v1",
                          filters={}, first_date=DAYS[0], last_date=DAYS[0], emit=items.append)
    irregular = [item for item in items if isinstance(item, IrregularRow)]
    blocks = [item for item in items if isinstance(item, VectorBlock)]
    assert irregular[0].raw == odd_first and len(irregular) <= 3  # the odd row, and at most the rows that adapt
    assert sum(len(block.row_ids) for block in blocks) >= len(regular) - 2
    decoded = np.concatenate([np.frombuffer(item.raw, dtype="<f4")[None] for item in irregular[1:]]
                             + [block.vectors for block in blocks])
    np.testing.assert_array_equal(decoded, regular)  # every regular row, in order, bit for bit
