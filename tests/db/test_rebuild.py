"""``pipeline.rebuild_range``, the chunked rebuild the bulk CLI and the rebuild DAG share, without argparse."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.config import RunConfig
from joint_context.errors import VectorDataError
from joint_context.pipeline import rebuild_range
from joint_context.pipeline.rebuild import read_window_days
from joint_context.spaces import REGIME_MACRO_V0
from tests.helpers import expected_joint, random_vectors

DAYS = [date(2024, 5, 1) + timedelta(days=offset) for offset in range(10)]
BAD_DAY, NO_TEXT_DAY = DAYS[3], DAYS[5]
CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}]


@pytest.fixture
def ten_days(runtime_conn, historical_conn):
    """Ten days x two contexts of dimension-4 vectors; a torn vector on one day, no text at all on another."""
    rng = np.random.default_rng(8)
    expected = {}
    for day in DAYS:
        for context in CONTEXTS:
            regime, text = random_vectors(rng, 1, 4)[0], random_vectors(rng, 2, 4)
            insert_regime(runtime_conn, region=context["region"], as_of_date=day, vector=regime)
            if day == NO_TEXT_DAY:
                continue
            for number, vector in enumerate(text):
                insert_macro_event(historical_conn, timestamp=utc(day, 3 + number), vector=vector,
                                   country=context["country"])
            if day != BAD_DAY:
                expected[(day, context["region"])] = expected_joint(regime, text)
    insert_macro_event(historical_conn, timestamp=utc(BAD_DAY, 20), vector=b"\x01" * 6, country="US")
    return expected


@pytest.fixture
def transactional_conns(clean_databases):
    """Connections as the CLI and the DAG open them: not in autocommit mode, so each chunk is one transaction."""
    with (psycopg.connect(clean_databases.runtime_dsn) as runtime_conn,
          psycopg.connect(clean_databases.historical_dsn) as historical_conn):
        yield runtime_conn, historical_conn


def config() -> RunConfig:
    return RunConfig.from_params(REGIME_MACRO_V0, {"contexts": CONTEXTS})


def stored(historical_conn) -> dict[tuple[date, str], tuple[str, np.ndarray]]:
    rows = historical_conn.execute(
        "SELECT as_of_date, entity_scope->>'region', xmin::text, vector FROM joint_embeddings").fetchall()
    return {(day, region): (xmin, np.frombuffer(vector, dtype="<f4")) for day, region, xmin, vector in rows}


def test_outcomes_come_in_date_order_once_committed_and_the_rows_equal_numpy(ten_days, transactional_conns,
                                                                            historical_conn):
    outcomes = list(rebuild_range(*transactional_conns, config(), DAYS[0], DAYS[-1], chunk_keys=6))

    assert [outcome.as_of_date for outcome in outcomes] == DAYS
    assert {outcome.as_of_date: outcome.status for outcome in outcomes} == {
        day: "failed" if day == BAD_DAY else "skipped" if day == NO_TEXT_DAY else "written" for day in DAYS}
    failed = next(outcome for outcome in outcomes if outcome.status == "failed")
    assert isinstance(failed.error, VectorDataError) and "not a multiple of 4" in str(failed.error)
    assert sum(outcome.counts["written"] for outcome in outcomes) == len(ten_days)
    assert next(o for o in outcomes if o.as_of_date == NO_TEXT_DAY).counts["skipped"] == 2
    rows = stored(historical_conn)
    assert sorted(rows) == sorted(ten_days)
    for key, (_xmin, vector) in rows.items():
        np.testing.assert_allclose(vector, ten_days[key], rtol=1e-6, atol=1e-7)
    # chunks of 6 keys = 3 dates that have results (the failed date adds none), one transaction each
    transactions = {}
    for (day, _region), (xmin, _vector) in rows.items():
        transactions.setdefault(xmin, set()).add(day)
    assert sorted(sorted(days) for days in transactions.values()) == [
        [DAYS[0], DAYS[1], DAYS[2]], [DAYS[4], DAYS[6]], [DAYS[7], DAYS[8], DAYS[9]]]  # NO_TEXT_DAY writes no row


def test_a_database_error_stops_after_the_dates_already_committed(ten_days, transactional_conns, historical_conn):
    refused_day = DAYS[7]  # in the third chunk
    historical_conn.execute(sql.SQL("ALTER TABLE joint_embeddings ADD CONSTRAINT test_refuse_day"
                                    " CHECK (as_of_date <> {})").format(sql.Literal(refused_day)))
    yielded = []
    try:
        with pytest.raises(psycopg.errors.CheckViolation):
            for outcome in rebuild_range(*transactional_conns, config(), DAYS[0], DAYS[-1], chunk_keys=6):
                yielded.append(outcome.as_of_date)
    finally:
        historical_conn.execute("ALTER TABLE joint_embeddings DROP CONSTRAINT test_refuse_day")

    assert yielded == DAYS[:7]  # two chunks committed (the failed and the skipped date among them)
    assert {day for day, _region in stored(historical_conn)} == {DAYS[0], DAYS[1], DAYS[2], DAYS[4], DAYS[6]}


def rebuild_peak_bytes(clean_databases, transactional_conns, regions: list[str], days: int,
                       window_days: int | None = None) -> int:
    """Seed ``days`` days of one 384-dim regime and one text vector per region, rebuild them, and return the peak
    of the Python heap the rebuild traced (numpy arrays included)."""
    import logging
    import tracemalloc

    clean_databases.truncate()
    first, dimension = date(2020, 1, 1), 384
    with psycopg.connect(clean_databases.runtime_dsn, autocommit=True) as runtime:
        runtime.execute(
            "INSERT INTO regimes (regime_record_id, as_of_date, region, regime_label, regime_embedding, confidence)"
            " SELECT region || day::date, day::date, region, 'x', %s, 1"
            "   FROM unnest(%s::text[]) AS region, generate_series(%s::date, %s::date + %s - 1, '1 day') AS day",
            (np.ones(dimension, dtype="<f4").tobytes(), regions, first, first, days))
    with psycopg.connect(clean_databases.historical_dsn, autocommit=True) as historical:
        historical.execute(
            "WITH events AS (INSERT INTO macro_events (event_type, \"timestamp\", country, description)"
            " SELECT 'CPI', day + interval '12 hours', country, 'generated'"
            "   FROM unnest(%s::text[]) AS country, generate_series(%s::date, %s::date + %s - 1, '1 day') AS day"
            " RETURNING event_id)"
            " INSERT INTO text_embeddings (source_type, source_id, model_id, vector)"
            " SELECT 'MACRO', event_id::text, 'text-macro-v1', %s FROM events",
            (regions, first, first, days, np.full(dimension, 0.5, dtype="<f4").tobytes()))
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [{"region": r, "country": r} for r in regions]})
    # pytest's log capture keeps every record (a few per date) whenever an earlier test has turned INFO on: that
    # would measure the harness, not the rebuild.
    logging.disable(logging.INFO)
    tracemalloc.start()
    try:
        outcomes = list(rebuild_range(*transactional_conns, config, first, first + timedelta(days=days - 1),
                                      window_days=window_days))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)
    assert [outcome.status for outcome in outcomes] == ["written"] * days
    return peak


def test_memory_stays_flat_in_the_length_of_the_range(clean_databases, transactional_conns):
    """A window's regimes and text sums are held, not the whole range's: a 50-region rebuild of ten years would
    otherwise hold 50 x 3650 float64 sums and regime vectors (1.3 GB)."""
    regions = [f"R{number}" for number in range(4)]  # with 92-day windows (the default's for 50 contexts)
    short = rebuild_peak_bytes(clean_databases, transactional_conns, regions, 276, window_days=92)
    long = rebuild_peak_bytes(clean_databases, transactional_conns, regions, 1104, window_days=92)
    assert long < 1.3 * short, (short, long)  # four times the range, about the same memory


def test_fewer_contexts_read_longer_windows_holding_the_same_context_days():
    """The default window holds at most 4,600 context-days (the fifty-region budget below): fewer contexts read
    longer windows, so three contexts read ten years in three queries per filter set."""
    assert [read_window_days(contexts) for contexts in (1, 3, 50, 200)] == [4600, 1533, 92, 31]


def test_a_fifty_region_rebuild_stays_within_the_memory_budget_of_a_200k_vector_day(clean_databases,
                                                                                  transactional_conns):
    """A 50-region rebuild holds less than 150 MB (the budget of a 200k-vector day): one 92-day window at most (the
    window is shorter the more contexts there are)."""
    regions = [f"R{number}" for number in range(50)]
    peak = rebuild_peak_bytes(clean_databases, transactional_conns, regions, 100)
    assert 10 * 2**20 < peak < 150 * 2**20, peak  # a window of 50 x 92 float64 sums and regimes is ~28 MB
