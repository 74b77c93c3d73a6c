"""The command line on REGIME_COMBINED_V0: ``backfill --space REGIME_COMBINED_V0`` writes what the DAG writes,
``show`` lists its rows and ``compare --spaces`` sets it against any other space of the region."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np
import pytest
from psycopg.types.json import Jsonb

from tests.e2e.cli_helpers import cosine, run_main
from tests.e2e.rows import macro_scope, news_scope
from tests.helpers import random_vectors

DAYS = [date(2025, 3, 3) + timedelta(days=offset) for offset in range(4)]
NO_NEWS_DAY = DAYS[2]
COMBINED_US = {"region": "US", "source": "macro+news", "macro_filters": {"country": "US"}, "news_filters": {}}


def insert(conn, joint_type: str, scope: dict, day: date, vector, model_id: str = "joint-regime-core-v1") -> None:
    conn.execute("INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
                 " VALUES (%s, %s, %s, %s, %s)",
                 (joint_type, day, Jsonb(scope), model_id, np.asarray(vector, dtype="<f4").tobytes()))


@pytest.fixture
def base_rows(historical_conn):
    """Four days of US macro and news rows (no news on one day), and a stale combined row on that day."""
    rng = np.random.default_rng(31)
    vectors = {}
    for day in DAYS:
        macro, news = random_vectors(rng, 2, 8)
        insert(historical_conn, "REGIME_MACRO_V0", macro_scope("US", country="US"), day, macro)
        if day != NO_NEWS_DAY:
            insert(historical_conn, "REGIME_CONTEXT_V0", news_scope("US"), day, news)
            vectors[day] = (macro, news)
    insert(historical_conn, "REGIME_COMBINED_V0", COMBINED_US, NO_NEWS_DAY, np.ones(8), "joint-regime-combined-v1")
    return vectors


def combined_vectors(conn) -> dict[date, np.ndarray]:
    rows = conn.execute("SELECT as_of_date, vector FROM joint_embeddings WHERE joint_type = 'REGIME_COMBINED_V0'"
                        " AND model_id = 'joint-regime-combined-v1' AND entity_scope = %s", (Jsonb(COMBINED_US),)
                        ).fetchall()
    assert len({day for day, _vector in rows}) == len(rows), "one row per key"
    return {day: np.frombuffer(vector, dtype="<f4") for day, vector in rows}


def backfill(capsys, databases, *options: str) -> tuple[int, str, str]:
    """The combined space reads only historical_db: runtime_db is named by a DSN nothing listens on."""
    return run_main(capsys, "backfill", "--space", "REGIME_COMBINED_V0", "--date-range", DAYS[0].isoformat(),
                    DAYS[-1].isoformat(), "--historical-dsn", databases.historical_dsn, "--runtime-dsn",
                    "postgresql://nobody@127.0.0.1:1/nothing_listens_here", "--no-progress", *options)


def test_backfill_writes_each_weighted_mean_and_removes_the_stale_row(capsys, clean_databases, historical_conn,
                                                                       base_rows):
    status, out, err = backfill(capsys, clean_databases, "--region", "US", "--country", "US",
                                "--macro-weight", "2", "--news-weight", "1")
    assert status == 0, err
    assert "4 date(s), 3 written, 1 skipped" in out and "1 stale rows removed" in out
    stored = combined_vectors(historical_conn)
    assert sorted(stored) == sorted(base_rows)
    for day, (macro, news) in base_rows.items():
        expected = ((2 * macro.astype(np.float64) + 1 * news.astype(np.float64)) / 3).astype(np.float32)
        np.testing.assert_allclose(stored[day], expected, rtol=1e-6, atol=1e-7)


def test_backfill_refuses_options_of_the_text_spaces(capsys, clean_databases, base_rows):
    status, _out, err = backfill(capsys, clean_databases, "--text-weight", "2")
    assert status == 2 and "--text-weight: not an option of REGIME_COMBINED_V0" in err


def test_show_and_compare_accept_the_combined_space(capsys, clean_databases, historical_conn, base_rows):
    assert backfill(capsys, clean_databases)[0] == 0
    status, out, err = run_main(capsys, "show", "--space", "REGIME_COMBINED_V0", "--date-range",
                                DAYS[0].isoformat(), DAYS[-1].isoformat(), "--csv",
                                "--historical-dsn", clean_databases.historical_dsn)
    assert status == 0, err
    shown = list(csv.DictReader(io.StringIO(out)))
    assert [(row["as_of_date"], row["filters"], row["model_id"]) for row in shown] == [
        (day.isoformat(), '{"country":"US"}', "joint-regime-combined-v1") for day in sorted(base_rows)]

    status, out, err = run_main(capsys, "compare", "--region", "US", "--spaces", "REGIME_MACRO_V0",
                                "joint_regime_combined_context", "--date-range", DAYS[0].isoformat(),
                                DAYS[-1].isoformat(), "--csv", "--historical-dsn", clean_databases.historical_dsn)
    assert status == 0, err
    records = list(csv.reader(io.StringIO(out)))
    same_day = [column for column in records[0] if column.startswith("same day")]
    assert same_day == ['same day: REGIME_MACRO_V0 joint-regime-core-v1 {"country":"US"} vs '
                        'REGIME_COMBINED_V0 joint-regime-combined-v1 {"country":"US"}']  # each space's own model
    stored = combined_vectors(historical_conn)
    column = records[0].index(same_day[0])
    for record in records[1:]:
        day = date.fromisoformat(record[0])
        if day in base_rows:
            assert float(record[column]) == pytest.approx(cosine(base_rows[day][0], stored[day]), abs=1e-6)


def test_compare_refuses_the_same_space_twice_and_a_filter_of_a_space_not_compared(capsys, clean_databases):
    common = ("--region", "US", "--date-range", DAYS[0].isoformat(), DAYS[-1].isoformat(),
              "--historical-dsn", clean_databases.historical_dsn)
    status, _out, err = run_main(capsys, "compare", "--spaces", "REGIME_COMBINED_V0", "REGIME_COMBINED_V0", *common)
    assert status == 2 and "twice" in err
    status, _out, err = run_main(capsys, "compare", "--spaces", "REGIME_MACRO_V0", "REGIME_COMBINED_V0",
                                 "--news-filters", "{}", *common)
    assert status == 2 and "REGIME_CONTEXT_V0 is not compared here" in err
