"""Analog-day search: which past days of a joint space looked most like this one (no Airflow import).

:func:`find_similar` takes a DB-API connection to ``historical_db`` (psycopg 3 or psycopg2). The query row is the
newest row of its key; the candidates are the newest row of each key of the same ``joint_type`` and ``model_id``
whose ``entity_scope`` is the query's (``any_region``: the same source and filters in any region), on dates before
the query's (``include_future``: every date but the query's). A candidate whose newest row holds no usable vector
(NULL, malformed, all zeros) or one of another dimension is left out and counted, never an error.

Two engines give the same neighbours and the same scores (float64, from the stored float32 values):

* ``numpy``: the candidates' vectors are read and ranked exactly in numpy. Always available.
* ``pgvector``: when the optional side table ``joint_vector_index`` exists (``optional_pgvector.sql``), the
  database ranks its copies, exactly (``ORDER BY <=>`` / ``<->``) or, ``approximate``, through the HNSW index of
  384-dimensional copies (cosine only); the rows it returns are re-scored in float64 here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from joint_context.errors import VectorDataError
from joint_context.spaces import canonical_json
from joint_context.store import binary_result_cursor, read_sql, vector_index_present
from joint_context.vectors import FLOAT32_LE, decode_vector

JOINT_EMBEDDINGS_TABLE = "historical_db.joint_embeddings"
METRICS = ("cosine", "l2")
ENGINES = ("auto", "numpy", "pgvector")
HNSW_DIMENSION = 384  # the dimension of idx_joint_vector_index_hnsw_384 (optional_pgvector.sql)
HNSW_EF_SEARCH = 200  # candidate list of an HNSW search: recall@10 >= 0.98 on the benchmark's history
RESCORE_MARGIN = 10  # rows fetched beyond `top` from pgvector, so its float32 order cannot drop a float64 neighbour
UNUSABLE = "unusable"  # NULL, malformed or all-zero vector
OTHER_DIMENSION = "other_dimension"


class SearchError(Exception):
    """The search cannot run: no row for the query key, or the query row's vector is unusable."""


@dataclass(frozen=True)
class QueryRow:
    joint_id: int
    joint_type: str
    model_id: str
    as_of_date: date
    entity_scope: dict
    vector: np.ndarray


@dataclass(frozen=True)
class Neighbour:
    rank: int
    joint_id: int
    as_of_date: date
    entity_scope: dict
    score: float  # cosine similarity, or L2 distance


@dataclass
class SearchResult:
    query: QueryRow
    metric: str
    engine: str  # numpy | pgvector | pgvector-hnsw
    neighbours: list[Neighbour]
    left_out: dict[str, list[int]] = field(default_factory=dict)  # UNUSABLE / OTHER_DIMENSION -> joint ids
    notes: list[str] = field(default_factory=list)


def find_similar(
    historical_conn, *, joint_type: str, model_id: str, as_of_date: date, entity_scope: dict, top: int = 10,
    metric: str = "cosine", include_future: bool = False, any_region: bool = False, engine: str = "auto",
    approximate: bool = False,
) -> SearchResult:
    """The ``top`` nearest neighbours of the key's newest row (see the module's docstring for the rules).

    :param engine: ``auto`` (pgvector when the side table exists, else numpy), ``numpy`` or ``pgvector``.
    :param approximate: with pgvector, use the HNSW index (cosine, 384 dimensions; otherwise exact, with a note).
    :raises SearchError: no row for the key, or its newest row's vector is NULL, malformed or all zeros (cosine).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    autocommit = getattr(historical_conn, "autocommit", False)
    if autocommit:  # one transaction for the search: the HNSW settings hold for its transaction only
        historical_conn.autocommit = False
    try:
        query = _query_row(historical_conn, joint_type, model_id, as_of_date, entity_scope, metric)
        params = _candidate_params(query, include_future=include_future, any_region=any_region)
        if engine != "numpy":
            with historical_conn.cursor() as cursor:
                present = vector_index_present(cursor)
            if engine == "pgvector" and not present:
                raise SearchError("the pgvector engine needs the side table joint_vector_index, which this database "
                                  "lacks: run include/sql/schema/optional_pgvector.sql, then vector-index rebuild")
            engine = "pgvector" if present else "numpy"
        if engine == "numpy":
            result = _numpy_search(historical_conn, query, params, metric, top)
            if approximate:
                result.notes.append("--approximate: no pgvector side table here; the search ran exactly (numpy)")
            return result
        return _pgvector_search(historical_conn, query, params, metric, top, approximate)
    finally:
        historical_conn.rollback()  # end the read-only transaction (and the HNSW settings with it)
        if autocommit:
            historical_conn.autocommit = True


def _query_row(conn, joint_type: str, model_id: str, as_of_date: date, entity_scope: dict, metric: str) -> QueryRow:
    key = (f"joint_type {joint_type}, model_id {model_id}, as_of_date {as_of_date}, "
           f"entity_scope {canonical_json(entity_scope)}")
    with conn.cursor() as cursor:
        cursor.execute(read_sql("select_similar_query_row.sql"), {
            "joint_type": joint_type, "model_id": model_id, "as_of_date": as_of_date,
            "entity_scope": canonical_json(entity_scope)})
        found = cursor.fetchone()
    if found is None:
        raise SearchError(f"no joint row for the query key ({key}) in {JOINT_EMBEDDINGS_TABLE}")
    joint_id, raw = found
    if raw is None:
        raise SearchError(f"the query row (joint_id {joint_id}; {key}) has a NULL vector")
    try:
        vector = decode_vector(raw, table=JOINT_EMBEDDINGS_TABLE, row_id=joint_id)
    except VectorDataError as error:
        raise SearchError(f"the query row (joint_id {joint_id}; {key}) has a malformed vector: {error.problem}") \
            from None
    if not vector.any():
        raise SearchError(f"the query row (joint_id {joint_id}; {key}) has an all-zero vector: no direction to "
                          f"compare{' (use --metric l2)' if metric == 'cosine' else ''}")
    return QueryRow(joint_id, joint_type, model_id, as_of_date, entity_scope, vector)


def _candidate_params(query: QueryRow, *, include_future: bool, any_region: bool) -> dict:
    without_region = {key: value for key, value in query.entity_scope.items() if key != "region"}
    return {
        "joint_type": query.joint_type, "model_id": query.model_id, "as_of_date": query.as_of_date,
        "include_future": include_future, "any_region": any_region,
        "entity_scope": canonical_json(query.entity_scope), "scope_without_region": canonical_json(without_region),
    }


def _numpy_search(conn, query: QueryRow, params: dict, metric: str, top: int) -> SearchResult:
    with binary_result_cursor(conn) as cursor:  # raw vector bytes, not hex text
        cursor.execute(read_sql("select_similar_candidates.sql"), params)
        rows = cursor.fetchall()
    left_out: dict[str, list[int]] = {UNUSABLE: [], OTHER_DIMENSION: []}
    query_bytes = query.vector.nbytes
    # the rows of the query's length are decoded and checked at once; the few others one by one
    same_length = [row for row in rows if row[3] is not None and len(row[3]) == query_bytes]
    for joint_id, _as_of_date, _scope, raw in rows:
        if raw is None or len(raw) != query_bytes:
            vector = _usable(raw, joint_id)
            left_out[UNUSABLE if vector is None else OTHER_DIMENSION].append(joint_id)
    matrix = np.frombuffer(b"".join(bytes(row[3]) for row in same_length), dtype=FLOAT32_LE).reshape(
        len(same_length), query.vector.shape[0])
    usable = np.isfinite(matrix).all(axis=1) & matrix.any(axis=1)  # finite, and not all zeros (no direction)
    left_out[UNUSABLE] += [row[0] for row, ok in zip(same_length, usable, strict=True) if not ok]
    kept = [(joint_id, as_of_date, scope_text) for (joint_id, as_of_date, scope_text, _raw), ok
            in zip(same_length, usable, strict=True) if ok]
    neighbours = _ranked(query, kept, matrix[usable], metric, top)
    return SearchResult(query, metric, "numpy", neighbours, {reason: sorted(ids) for reason, ids in left_out.items()})


def _usable(raw, joint_id: int) -> np.ndarray | None:
    """The decoded vector, or None when it is NULL, malformed or all zeros (no direction: no cosine)."""
    if raw is None:
        return None
    try:
        vector = decode_vector(raw, table=JOINT_EMBEDDINGS_TABLE, row_id=joint_id)
    except VectorDataError:
        return None
    return vector if vector.any() else None


def _ranked(query: QueryRow, kept: Sequence[tuple[int, date, str]], vectors: np.ndarray | Sequence[np.ndarray],
            metric: str, top: int) -> list[Neighbour]:
    """The ``top`` of ``kept`` by score (float64), ties broken by earlier date, then smaller joint_id."""
    if not kept:
        return []
    matrix = np.asarray(vectors, dtype=np.float64)
    target = query.vector.astype(np.float64)
    if metric == "cosine":
        scores = matrix @ target / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(target))
        primary = -scores
    else:
        scores = np.linalg.norm(matrix - target, axis=1)
        primary = scores
    ordinals = np.array([as_of_date.toordinal() for _id, as_of_date, _scope in kept])
    ids = np.array([joint_id for joint_id, _date, _scope in kept])
    order = np.lexsort((ids, ordinals, primary))[:top]
    return [Neighbour(rank, kept[index][0], kept[index][1], json.loads(kept[index][2]), float(scores[index]))
            for rank, index in enumerate(order, start=1)]


def _pgvector_search(conn, query: QueryRow, params: dict, metric: str, top: int, approximate: bool) -> SearchResult:
    dimension = int(query.vector.shape[0])
    params = {**params, "dim": dimension, "by_l2": metric == "l2", "limit": top + RESCORE_MARGIN,
              "query_vector": vector_text(query.vector)}
    notes = []
    hnsw = approximate and metric == "cosine" and dimension == HNSW_DIMENSION
    if approximate and not hnsw:
        notes.append(f"--approximate: the HNSW index serves cosine on {HNSW_DIMENSION}-dimensional vectors; this "
                     f"search ({metric}, {dimension} dimensions) ran exactly")
    with conn.cursor() as cursor:
        cursor.execute(read_sql("count_vector_index_left_out.sql"), params)
        unusable, other_dimension = cursor.fetchone()
        if hnsw:
            cursor.execute(read_sql("set_hnsw_search.sql"), {"ef_search": str(max(HNSW_EF_SEARCH, top))})
            cursor.execute(read_sql("select_similar_pgvector_hnsw_384.sql"), params)
        else:
            cursor.execute(read_sql("select_similar_pgvector.sql"), params)
        rows = cursor.fetchall()
    kept = [(joint_id, as_of_date, scope_text) for joint_id, as_of_date, scope_text, _embedding in rows]
    vectors = [parse_vector_text(embedding) for _id, _date, _scope, embedding in rows]
    neighbours = _ranked(query, kept, vectors, metric, top)
    left_out = {UNUSABLE: sorted(unusable), OTHER_DIMENSION: sorted(other_dimension)}
    return SearchResult(query, metric, "pgvector-hnsw" if hnsw else "pgvector", neighbours, left_out, notes)


def vector_text(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector, exact: each value's shortest float64 repr parses back (strtof)
    to the same float32."""
    return "[" + ",".join(repr(value) for value in np.asarray(vector, dtype=np.float32).astype(np.float64).tolist()) \
        + "]"


def parse_vector_text(text: str) -> np.ndarray:
    """A pgvector value in text form (``[1,2.5,...]``) as float32: pgvector prints each float32 exactly (shortest
    round-trip form)."""
    return np.array(text.strip("[]").split(","), dtype=np.float64).astype(np.float32)


@dataclass(frozen=True)
class IndexRebuild:
    copies: int  # keys copied (one per key: its newest row)
    usable: int  # of which hold a vector (the others' newest row is NULL or malformed)


def rebuild_vector_index(historical_conn, joint_types: Sequence[str] | None = None) -> IndexRebuild:
    """Refill the pgvector side table from ``joint_embeddings`` (the given joint types, or all) in one transaction:
    for rows written before the table existed, or by other tools. Raises if the table does not exist."""
    try:
        with historical_conn.cursor() as cursor:
            types = None if joint_types is None else list(joint_types)
            cursor.execute(read_sql("delete_vector_index_copies.sql"), {"joint_types": types})
            cursor.execute(read_sql("insert_vector_index_rebuild.sql"), {"joint_types": types})
            copies, usable = cursor.fetchone()
        historical_conn.commit()
    except BaseException:
        historical_conn.rollback()
        raise
    return IndexRebuild(copies, usable)
