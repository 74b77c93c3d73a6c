"""Analog-day search against real PostgreSQL: the neighbours equal a brute-force numpy ranking written here, on a
history with legacy duplicates, NULL and malformed rows, other model ids, other regions, other filters, foreign
scopes and later dates; with both engines (numpy on a database without the pgvector side table, pgvector on one
with it: the embedded server, or one of its own when the session's server has no pgvector)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pytest

from joint_context.search import OTHER_DIMENSION, UNUSABLE, SearchError, find_similar, rebuild_vector_index
from joint_context.store import read_sql

JOINT_TYPE = "REGIME_MACRO_V0"
MODEL = "joint-regime-core-v1"
QUERY_DATE = date(2025, 3, 20)
DIMENSION = 8


def scope(region: str, **filters: str) -> dict:
    return {"region": region, "source": "regime+macro", "macro_filters": filters}


US, EU, US_DE = scope("US", country="US"), scope("EU", country="US"), scope("US", country="DE")


def insert(conn, as_of_date, entity_scope, raw, *, model_id=MODEL, joint_type=JOINT_TYPE, hour=6) -> int:
    """One row as an earlier tool wrote it (raw bytes or NULL), its id returned."""
    scope_text = entity_scope if isinstance(entity_scope, str) else json.dumps(entity_scope)
    return conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
        " VALUES (%s, %s, %s::jsonb, %s, %s, %s) RETURNING joint_id",
        (joint_type, as_of_date, scope_text, model_id, raw, datetime(2025, 6, 1, hour, tzinfo=UTC)),
    ).fetchone()[0]


def seed_history(conn, rng, *, dimension=DIMENSION, days=40) -> dict:
    """The history; returns every row inserted as ``{joint_id: (joint_type, model_id, date, scope, raw, hour)}``."""
    rows = {}

    def add(as_of_date, entity_scope, raw, **kwargs):
        joint_id = insert(conn, as_of_date, entity_scope, raw, **kwargs)
        rows[joint_id] = (kwargs.get("joint_type", JOINT_TYPE), kwargs.get("model_id", MODEL), as_of_date,
                          entity_scope, raw, kwargs.get("hour", 6))

    def vector(size=dimension):
        return rng.normal(size=size).astype("<f4").tobytes()

    first = QUERY_DATE - timedelta(days=days // 2)
    for offset in range(days):
        day = first + timedelta(days=offset)
        for entity_scope in (US, EU, US_DE):
            add(day, entity_scope, vector())
        add(day, US, vector(), model_id="joint-other-v1")  # another model: never a candidate
        add(day, US, vector(), joint_type="REGIME_CONTEXT_V0")  # another space: never a candidate
    early = [first + timedelta(days=offset) for offset in range(1, 8)]
    add(early[0], US, vector(), hour=7)  # legacy duplicate, newer by created_at: wins
    add(early[1], US, vector(), hour=6)  # same created_at as the first row: the higher joint_id wins
    add(early[2], US, None, hour=8)  # newest row NULL: the key is left out, its older valid row is not used
    add(early[3], US, b"\x00\x01\x02\x03\x04", hour=8)  # newest row torn (5 bytes)
    add(early[4], US, np.array([np.nan] * dimension, "<f4").tobytes(), hour=8)  # non-finite
    add(early[5], US, np.zeros(dimension, "<f4").tobytes(), hour=8)  # all zeros: no direction
    add(early[6], US, vector(dimension - 2), hour=8)  # another dimension
    add(early[0], EU, None, hour=8)
    add(early[1], '"US"', vector())  # foreign scopes: a JSON string, a flat scope, no region
    add(early[2], {"region": "US", "source": "regime+macro", "macro_country": "US"}, vector())
    add(early[3], {"source": "regime+macro", "macro_filters": {"country": "US"}}, vector())
    return rows


def expected(rows: dict, query_scope: dict, *, metric="cosine", include_future=False, any_region=False,
             top=10) -> tuple[list[tuple[int, float]], dict[str, list[int]]]:
    """Brute force: newest row per key, the rules of the issue, float64 scores, ties by date then id."""
    newest = {}
    for joint_id, (joint_type, model_id, as_of_date, entity_scope, raw, hour) in sorted(rows.items()):
        key = (joint_type, model_id, as_of_date, json.dumps(entity_scope, sort_keys=True))
        if key not in newest or hour >= newest[key][0]:
            newest[key] = (hour, joint_id, as_of_date, entity_scope, raw)
    query_key = (JOINT_TYPE, MODEL, QUERY_DATE, json.dumps(query_scope, sort_keys=True))
    query = np.frombuffer(newest[query_key][4], "<f4").astype(np.float64)
    without_region = {k: v for k, v in query_scope.items() if k != "region"}
    scored, left_out = [], {UNUSABLE: [], OTHER_DIMENSION: []}
    for (joint_type, model_id, as_of_date, _text), (_hour, joint_id, _date, entity_scope, raw) in newest.items():
        if (joint_type, model_id) != (JOINT_TYPE, MODEL) or as_of_date == QUERY_DATE:
            continue
        if not include_future and as_of_date > QUERY_DATE:
            continue
        if any_region:
            if not (isinstance(entity_scope, dict) and isinstance(entity_scope.get("region"), str)
                    and {k: v for k, v in entity_scope.items() if k != "region"} == without_region):
                continue
        elif entity_scope != query_scope:
            continue
        values = None if raw is None or len(raw) % 4 else np.frombuffer(raw, "<f4").astype(np.float64)
        if values is None or not np.isfinite(values).all() or not values.any():
            left_out[UNUSABLE].append(joint_id)
            continue
        if values.shape != query.shape:
            left_out[OTHER_DIMENSION].append(joint_id)
            continue
        if metric == "cosine":
            score = float(np.dot(values, query) / (np.linalg.norm(values) * np.linalg.norm(query)))
            scored.append(((-score, as_of_date, joint_id), joint_id, score))
        else:
            score = float(np.sqrt(np.sum((values - query) ** 2)))
            scored.append(((score, as_of_date, joint_id), joint_id, score))
    scored.sort()
    return [(joint_id, score) for _key, joint_id, score in scored[:top]], {k: sorted(v) for k, v in left_out.items()}


@pytest.fixture(params=["numpy", "pgvector"])
def engine_conn(request):
    """A connection to a database seeded the same way: without the side table (numpy), or with it (pgvector)."""
    conn = request.getfixturevalue("historical_conn" if request.param == "numpy" else "vector_conn")
    return request.param, conn


def seeded(engine_conn, **kwargs) -> tuple[str, psycopg.Connection, dict]:
    engine, conn = engine_conn
    rows = seed_history(conn, np.random.default_rng(7), **kwargs)
    if engine == "pgvector":
        rebuild_vector_index(conn)
    return engine, conn, rows


@pytest.mark.parametrize(("metric", "include_future", "any_region"), [
    ("cosine", False, False), ("l2", False, False), ("cosine", True, False), ("cosine", False, True),
    ("l2", True, True),
])
def test_neighbours_equal_a_brute_force_ranking_with_either_engine(engine_conn, metric, include_future, any_region):
    engine, conn, rows = seeded(engine_conn)
    result = find_similar(conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US,
                          top=12, metric=metric, include_future=include_future, any_region=any_region)
    want, left_out = expected(rows, US, metric=metric, include_future=include_future, any_region=any_region, top=12)
    assert result.engine == engine
    assert [neighbour.joint_id for neighbour in result.neighbours] == [joint_id for joint_id, _score in want]
    assert [neighbour.score for neighbour in result.neighbours] == pytest.approx([s for _id, s in want], rel=1e-12)
    assert [neighbour.rank for neighbour in result.neighbours] == list(range(1, 13))
    assert result.left_out == left_out and len(left_out[UNUSABLE]) >= 4 and left_out[OTHER_DIMENSION]
    dates = [neighbour.as_of_date for neighbour in result.neighbours]
    assert QUERY_DATE not in dates
    assert (max(dates) > QUERY_DATE) == include_future
    assert ({neighbour.entity_scope["region"] for neighbour in result.neighbours} == {"US", "EU"}) == any_region


def test_all_candidates_are_ranked_and_the_look_ahead_is_exact(engine_conn):
    _engine, conn, rows = seeded(engine_conn)
    result = find_similar(conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US,
                          top=1000)
    want, _left_out = expected(rows, US, top=1000)
    assert [neighbour.joint_id for neighbour in result.neighbours] == [joint_id for joint_id, _score in want]
    assert max(neighbour.as_of_date for neighbour in result.neighbours) == QUERY_DATE - timedelta(days=1)


def test_ties_rank_the_earlier_date_first(engine_conn):
    _engine, conn = engine_conn
    same = np.arange(1, 9, dtype="<f4")
    insert(conn, QUERY_DATE, US, same.tobytes())
    # scaled by powers of two: every cosine is the same float64, bit for bit
    ids = {days: insert(conn, QUERY_DATE - timedelta(days=days), US, (same * days).tobytes()) for days in (1, 4, 2)}
    if _engine == "pgvector":
        rebuild_vector_index(conn)
    result = find_similar(conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US)
    assert len({neighbour.score for neighbour in result.neighbours}) == 1
    assert [neighbour.joint_id for neighbour in result.neighbours] == [ids[4], ids[2], ids[1]]
    assert [neighbour.score for neighbour in result.neighbours] == pytest.approx([1.0] * 3)


@pytest.mark.parametrize(("raw", "problem"), [
    (None, "has a NULL vector"), (b"\x00\x01\x02", "malformed vector: vector has 3 bytes"),
    (np.zeros(4, "<f4").tobytes(), "all-zero vector"),
])
def test_an_unusable_query_row_is_an_error_naming_its_joint_id(engine_conn, raw, problem):
    _engine, conn = engine_conn
    insert(conn, QUERY_DATE, US, np.ones(4, "<f4").tobytes(), hour=5)  # an older valid row does not stand in
    joint_id = insert(conn, QUERY_DATE, US, raw)
    with pytest.raises(SearchError, match=f"joint_id {joint_id};.*{problem}"):
        find_similar(conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US)


def test_no_row_for_the_query_key_is_an_error_naming_the_key(engine_conn):
    _engine, conn = engine_conn
    insert(conn, QUERY_DATE, US, np.ones(4, "<f4").tobytes(), model_id="joint-other-v1")
    with pytest.raises(SearchError, match=r"no joint row for the query key \(joint_type REGIME_MACRO_V0, model_id "
                                          r"joint-regime-core-v1, as_of_date 2025-03-20, entity_scope .*\"US\""):
        find_similar(conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US)


def test_hnsw_finds_the_exact_neighbours_on_384_dimensions(vector_conn):
    rows = seed_history(vector_conn, np.random.default_rng(11), dimension=384, days=300)
    rebuild_vector_index(vector_conn)
    for any_region in (False, True):
        exact = find_similar(vector_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE,
                             entity_scope=US, any_region=any_region, include_future=True)
        approximate = find_similar(vector_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE,
                                   entity_scope=US, any_region=any_region, include_future=True, approximate=True)
        want, _left_out = expected(rows, US, any_region=any_region, include_future=True)
        assert (exact.engine, approximate.engine) == ("pgvector", "pgvector-hnsw")
        assert [n.joint_id for n in exact.neighbours] == [joint_id for joint_id, _score in want]
        assert [n.joint_id for n in approximate.neighbours] == [joint_id for joint_id, _score in want]


def test_the_hnsw_query_uses_the_index(vector_conn):
    seed_history(vector_conn, np.random.default_rng(5), dimension=384, days=60)
    rebuild_vector_index(vector_conn)
    vector_conn.execute("ANALYZE joint_vector_index")
    params = {"joint_type": JOINT_TYPE, "model_id": MODEL, "as_of_date": QUERY_DATE, "include_future": False,
              "any_region": False, "entity_scope": json.dumps(US), "scope_without_region": "{}", "limit": 20,
              "query_vector": "[" + ",".join(["1"] * 384) + "]"}
    with vector_conn.transaction():
        vector_conn.execute(read_sql("set_hnsw_search.sql"), {"ef_search": "200"})
        plan = vector_conn.execute("EXPLAIN " + read_sql("select_similar_pgvector_hnsw_384.sql"), params).fetchall()
    assert "Index Scan using idx_joint_vector_index_hnsw_384" in "\n".join(line for (line,) in plan)


def test_approximate_falls_back_to_exact_for_l2_and_other_dimensions(vector_conn):
    rows = seed_history(vector_conn, np.random.default_rng(3))
    rebuild_vector_index(vector_conn)
    result = find_similar(vector_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE,
                          entity_scope=US, approximate=True, metric="l2")
    assert result.engine == "pgvector" and "ran exactly" in result.notes[0]
    assert [n.joint_id for n in result.neighbours] == [joint_id for joint_id, _s in expected(rows, US, metric="l2")[0]]


def hnsw_index_scans(conn) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT idx_scan FROM pg_stat_user_indexes"
                        " WHERE indexrelname = 'idx_joint_vector_index_hnsw_384'").fetchone()[0]


def test_an_approximate_search_reads_the_hnsw_index_and_its_settings_end_with_it(vector_conn):
    seed_history(vector_conn, np.random.default_rng(13), dimension=384, days=30)
    rebuild_vector_index(vector_conn)
    vector_conn.execute("ANALYZE joint_vector_index")
    before = hnsw_index_scans(vector_conn)
    result = find_similar(vector_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE, entity_scope=US,
                          approximate=True)
    vector_conn.execute("SELECT pg_stat_force_next_flush()")
    vector_conn.execute("SELECT 1")  # a transaction's end: the statistics are flushed
    assert result.engine == "pgvector-hnsw" and len(result.neighbours) == 10
    assert hnsw_index_scans(vector_conn) > before
    assert vector_conn.autocommit  # the caller's connection as it was, its session settings untouched
    settings = ("hnsw.ef_search", "hnsw.iterative_scan", "enable_sort")
    assert [vector_conn.execute(f"SHOW {name}").fetchone()[0] for name in settings] == ["40", "off", "on"]


def test_the_pgvector_engine_without_the_side_table_is_an_error_saying_what_to_run(historical_conn):
    insert(historical_conn, QUERY_DATE, US, np.ones(4, "<f4").tobytes())
    with pytest.raises(SearchError, match="lacks: run include/sql/schema/optional_pgvector.sql"):
        find_similar(historical_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE,
                     entity_scope=US, engine="pgvector")
    result = find_similar(historical_conn, joint_type=JOINT_TYPE, model_id=MODEL, as_of_date=QUERY_DATE,
                          entity_scope=US, approximate=True)
    assert result.engine == "numpy" and "ran exactly (numpy)" in result.notes[0]
