"""``joint-context similar`` as a user runs it: the issue's JSON shape, the same neighbours from both engines,
notes on stderr, and exit status 2 with nothing on stdout when the query key has no usable row."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import numpy as np
import pytest

from joint_context.search import rebuild_vector_index
from tests.e2e.cli_helpers import run_main
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope

QUERY_DATE = date(2025, 1, 15)
ARGS = ("similar", "--space", "REGIME_MACRO_V0", "--region", "US", "--country", "US", "--date",
        QUERY_DATE.isoformat())


def seed(conn) -> dict[date, np.ndarray]:
    """US/country US every day of January (one NULL day, one legacy duplicate), EU on the same days."""
    rng = np.random.default_rng(17)
    vectors = {}
    for offset in range(31):
        day = date(2025, 1, 1) + timedelta(days=offset)
        vectors[day] = rng.normal(size=6).astype(np.float32)
        insert_joint_row(conn, "REGIME_MACRO_V0", day, macro_scope("EU", country="US"), rng.normal(size=6))
        if day == date(2025, 1, 9):
            insert_joint_row(conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), vectors[day])
            insert_joint_row(conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), None)  # newest: NULL
            del vectors[day]
            continue
        if day == date(2025, 1, 4):  # a legacy duplicate: the newer row (inserted last) counts
            insert_joint_row(conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), -vectors[day])
        insert_joint_row(conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), vectors[day])
    return vectors


def brute_force(vectors: dict[date, np.ndarray], top: int) -> list[tuple[str, float]]:
    query = vectors[QUERY_DATE].astype(np.float64)
    wide = {day: vector.astype(np.float64) for day, vector in vectors.items() if day < QUERY_DATE}
    scores = [(day, float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query)))) for day, v in wide.items()]
    scores.sort(key=lambda item: (-item[1], item[0]))
    return [(day.isoformat(), score) for day, score in scores[:top]]


@pytest.fixture(params=["numpy", "pgvector"])
def seeded(request):
    """``(engine, historical DSN, vectors)``: the same history without and with the pgvector side table."""
    if request.param == "numpy":
        conn, dsn = request.getfixturevalue("historical_conn"), request.getfixturevalue("databases").historical_dsn
    else:
        conn, dsn = request.getfixturevalue("vector_conn"), request.getfixturevalue("pgvector_databases").historical_dsn
    vectors = seed(conn)
    if request.param == "pgvector":
        rebuild_vector_index(conn)
    return request.param, dsn, vectors


def test_json_is_the_issue_shape_and_equals_numpy_with_either_engine(seeded, capsys):
    engine, dsn, vectors = seeded
    status, out, err = run_main(capsys, *ARGS, "--top", "5", "--format", "json", "--historical-dsn", dsn)
    assert status == 0, err
    document = json.loads(out)
    assert document["query"] == {"joint_type": "REGIME_MACRO_V0", "model_id": "joint-regime-core-v1",
                                 "as_of_date": "2025-01-15", "entity_scope": macro_scope("US", country="US")}
    assert document["metric"] == "cosine" and list(document) == ["query", "metric", "neighbours"]
    assert [list(neighbour) for neighbour in document["neighbours"]] == [["rank", "as_of_date", "entity_scope",
                                                                          "score"]] * 5
    want = brute_force(vectors, 5)
    assert [(n["as_of_date"], n["score"]) for n in document["neighbours"]] == [
        (day, pytest.approx(score, rel=1e-12)) for day, score in want]
    assert [n["rank"] for n in document["neighbours"]] == [1, 2, 3, 4, 5]
    assert all(n["entity_scope"] == macro_scope("US", country="US") for n in document["neighbours"])
    assert f"engine: {engine}" in err
    assert "Left out 1 candidate(s) whose newest row holds a NULL or malformed vector" in err


def test_csv_and_table_hold_the_same_neighbours(seeded, capsys):
    _engine, dsn, vectors = seeded
    status, out, _err = run_main(capsys, *ARGS, "--top", "3", "--format", "csv", "--any-region",
                                 "--include-future", "--metric", "l2", "--historical-dsn", dsn)
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["rank"] for row in rows] == ["1", "2", "3"] and rows[0].keys() >= {"as_of_date", "region", "score"}
    assert [float(row["score"]) for row in rows] == sorted(float(row["score"]) for row in rows)
    status, table, _err = run_main(capsys, *ARGS, "--top", "3", "--any-region", "--include-future", "--metric", "l2",
                                   "--historical-dsn", dsn)
    assert status == 0 and all(row["as_of_date"] in table for row in rows) and "by L2 distance" in table


def test_scope_json_is_the_filters_object_directly(seeded, capsys):
    _engine, dsn, _vectors = seeded
    by_option = run_main(capsys, *ARGS, "--format", "json", "--historical-dsn", dsn)
    by_scope = run_main(capsys, "similar", "--region", "US", "--scope", '{"country": "US"}', "--date", "2025-01-15",
                        "--format", "json", "--historical-dsn", dsn)
    assert by_option[0] == by_scope[0] == 0 and by_option[1] == by_scope[1]


def test_no_row_for_the_query_key_exits_2_naming_the_key_with_nothing_on_stdout(databases, historical_conn, capsys):
    seed(historical_conn)
    status, out, err = run_main(capsys, *ARGS[:-1], "2025-03-01", "--historical-dsn", databases.historical_dsn)
    assert (status, out) == (2, "")
    assert ('error: no joint row for the query key (joint_type REGIME_MACRO_V0, model_id joint-regime-core-v1, '
            'as_of_date 2025-03-01, entity_scope {"macro_filters":{"country":"US"},"region":"US",'
            '"source":"regime+macro"})') in err


def test_a_null_query_vector_exits_2_naming_its_joint_id(databases, historical_conn, capsys):
    seed(historical_conn)
    (joint_id,) = historical_conn.execute(
        "SELECT max(joint_id) FROM joint_embeddings WHERE as_of_date = '2025-01-09' AND vector IS NULL").fetchone()
    status, out, err = run_main(capsys, *ARGS[:-1], "2025-01-09", "--format", "json",
                                "--historical-dsn", databases.historical_dsn)
    assert (status, out) == (2, "")
    assert f"the query row (joint_id {joint_id};" in err and "has a NULL vector" in err


@pytest.mark.parametrize(("extra", "message"), [
    (("--scope", '{"country": "US"}'), "either with --scope or with the filter options"),
    (("--language", "en"), "language: not a filter of REGIME_MACRO_V0; it accepts country, event_type"),
])
def test_filters_the_space_does_not_take_exit_2(databases, capsys, extra, message):
    status, out, err = run_main(capsys, *ARGS, *extra, "--historical-dsn", databases.historical_dsn)
    assert (status, out) == (2, "") and message in err


def test_the_news_space_takes_its_language_filter(databases, historical_conn, capsys):
    for offset, vector in enumerate(np.eye(4)):
        insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", QUERY_DATE - timedelta(days=offset),
                         news_scope("US", language="en"), vector + 0.1)
    status, out, err = run_main(capsys, "similar", "--space", "REGIME_CONTEXT_V0", "--region", "US", "--language",
                                "EN", "--date", QUERY_DATE.isoformat(), "--format", "json",
                                "--historical-dsn", databases.historical_dsn)
    assert status == 0, err
    assert json.loads(out)["query"]["entity_scope"] == news_scope("US", language="en")  # canonical: lower case
    assert len(json.loads(out)["neighbours"]) == 3
