"""2. The upstream pattern, the previous scripts' way of doing a date: per context a ``DATE()`` query, rows decoded
one by one, the mean in numpy, the joint row deleted and inserted with a commit per statement."""

from __future__ import annotations

import time
from datetime import date

UPSTREAM_REGIME_SQL = (
    "SELECT regime_record_id, regime_embedding FROM regimes WHERE region = %s AND as_of_date = %s"
    " ORDER BY created_at DESC LIMIT 1"
)
UPSTREAM_DELETE_SQL = (
    "DELETE FROM joint_embeddings WHERE joint_type = %s AND model_id = %s AND as_of_date = %s"
    " AND entity_scope = %s::jsonb"
)
UPSTREAM_INSERT_SQL = (
    "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
    " VALUES (%s, %s, %s::jsonb, %s, %s)"
)


def run_upstream_day(space, contexts: list[dict], as_of_date: date, history, connections=None) -> dict:
    """One date the previous scripts' way: per context a ``DATE()`` query, rows decoded one by one,
    the mean in numpy, the joint row deleted and inserted with a commit per statement.

    Two connections opened for the date, or ``connections`` (runtime, historical) held open by the caller."""
    import contextlib

    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if connections is None:
            connections = [stack.enter_context(upstream_connection(dsn))
                           for dsn in (history.runtime_dsn, history.historical_dsn)]
        steps = upstream_steps(space, contexts, as_of_date, *connections)
    return {**steps, "total": time.perf_counter() - started}


def upstream_connection(dsn: str):
    import psycopg

    return psycopg.connect(dsn, options="-c TimeZone=UTC", autocommit=True)


def upstream_steps(space, contexts: list[dict], as_of_date: date, runtime_conn, historical_conn) -> dict:
    import numpy as np

    from bench.plans import UPSTREAM_TEXT_SQL, upstream_text_params
    from joint_context.config import parse_contexts
    from joint_context.spaces import canonical_json

    query_seconds = 0.0
    written = 0
    for context in parse_contexts(space, contexts):
        regime = runtime_conn.execute(UPSTREAM_REGIME_SQL, (context.region, as_of_date)).fetchone()
        query_started = time.perf_counter()
        rows = historical_conn.execute(
            UPSTREAM_TEXT_SQL[space.joint_type], upstream_text_params(space, context.filter_dict, as_of_date)
        ).fetchall()
        query_seconds += time.perf_counter() - query_started
        if regime is None or regime[1] is None or not rows:
            continue
        vectors = [np.frombuffer(vector, dtype="<f4") for _row_id, vector in rows if vector is not None]
        text_mean = np.mean(vectors, axis=0, dtype=np.float64)
        joint = ((0.5 * np.frombuffer(regime[1], dtype="<f4") + 0.5 * text_mean) / 1.0).astype("<f4")
        scope = canonical_json(space.entity_scope(context.region, context.filter_dict))
        historical_conn.execute(UPSTREAM_DELETE_SQL, (space.joint_type, "joint-upstream-bench", as_of_date, scope))
        historical_conn.execute(
            UPSTREAM_INSERT_SQL, (space.joint_type, as_of_date, scope, "joint-upstream-bench", joint.tobytes())
        )
        written += 1
    return {"query": query_seconds, "written": written}
