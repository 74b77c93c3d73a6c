"""8. Analog-day search (``joint-context similar``): the upstream pattern vs the package's numpy path, pgvector exact
and pgvector HNSW, on one space's history of ``years`` x ``regions`` 384-dimensional joint vectors.

The history is one ``REGIME_MACRO_V0`` row per region and day, each region a random walk (an AR(1) drift, as
regimes move slowly), loaded with binary COPY into a database of its own, then the optional pgvector migration
and ``vector-index rebuild`` (both timed). Each query is a random (region, date) of the later 80% of the history,
searched with ``--any-region`` (every region's earlier days are candidates: the whole space, what an index is for),
top 10 by cosine:

* upstream: the ``find_similar_*`` scripts' pattern: every vector of the joint type fetched, decoded, cosine in
  numpy, sorted, the earlier dates kept (no de-duplication);
* numpy / pgvector / pgvector-hnsw: :func:`joint_context.search.find_similar` with each engine.

Recall@10 of HNSW is against the exact pgvector result (itself checked equal to the numpy path's). The server
must have pgvector: when the benchmark's server has none, an embedded one is started for this measurement.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg

from bench.report import Report, timing_summary
from devtools import localdb
from joint_context.search import find_similar, rebuild_vector_index

log = logging.getLogger(__name__)

JOINT_TYPE = "REGIME_MACRO_V0"
MODEL_ID = "joint-regime-core-v1"
DIMENSION = 384
TOP = 10
DRIFT = 0.97  # x_t = DRIFT x_{t-1} + sqrt(1 - DRIFT^2) noise: each region's days stay near their neighbours


@dataclass(frozen=True)
class SearchScale:
    years: float
    regions: int
    queries: int


SEARCH_SCALES = {
    "tiny": SearchScale(years=0.2, regions=4, queries=5),
    "small": SearchScale(years=2, regions=10, queries=30),
    "full": SearchScale(years=10, regions=50, queries=100),
}


def scope(region: str) -> dict:
    return {"region": region, "source": "regime+macro", "macro_filters": {}}


def load_history(conn, scale: SearchScale, last_date: date, seed: int = 20251231) -> list[str]:
    """One row per region and day, in time order; returns the regions."""
    rng = np.random.default_rng(seed)
    days = int(scale.years * 365)
    regions = [f"R{index:02d}" for index in range(scale.regions)]
    walks = rng.normal(size=(len(regions), DIMENSION))
    noise_scale = float(np.sqrt(1 - DRIFT**2))
    scopes = {region: json.dumps(scope(region)) for region in regions}
    with conn.cursor() as cursor, cursor.copy(
            "COPY joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector) FROM STDIN") as copy:
        for offset in range(days):
            day = last_date - timedelta(days=days - 1 - offset)
            walks = DRIFT * walks + noise_scale * rng.normal(size=walks.shape)
            for index, region in enumerate(regions):
                copy.write_row((JOINT_TYPE, day, scopes[region], MODEL_ID, walks[index].astype("<f4").tobytes()))
    conn.commit()
    return regions


def upstream_search(conn, query_vector: np.ndarray, query_date: date) -> list[date]:
    """The upstream scripts: every candidate into Python, numpy cosine, sort, top k (no index, no de-duplication)."""
    rows = conn.execute("SELECT as_of_date, entity_scope, vector FROM joint_embeddings WHERE joint_type = %s",
                        (JOINT_TYPE,), binary=True).fetchall()
    rows = [row for row in rows if row[0] < query_date]
    matrix = np.stack([np.frombuffer(row[2], dtype="<f4") for row in rows]).astype(np.float64)
    target = query_vector.astype(np.float64)
    scores = matrix @ target / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(target))
    return [rows[index][0] for index in np.argsort(-scores)[:TOP]]


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def measure_search(report: Report, results: dict, admin_dsn: str, scale_name: str, last_date: date,
                   prefix: str) -> None:
    scale = SEARCH_SCALES[scale_name]
    with tempfile.TemporaryDirectory(prefix="jc-bench-search-") as scratch:
        server = None
        if not localdb.has_extension(admin_dsn, "vector"):
            log.info("no pgvector on the benchmark's server: an embedded one for the search measurement")
            server = localdb.start_embedded_server(Path(scratch) / "pgdata", cleanup_mode="delete")
            admin_dsn = server.get_uri()
        name = f"{prefix}_search"
        try:
            dsn = localdb.create_database(admin_dsn, name, "historical_db.sql")
            _measure(report, results, dsn, scale, last_date)
        finally:
            localdb.drop_database(admin_dsn, name)
            if server is not None:
                server.cleanup()


def _measure(report: Report, results: dict, dsn: str, scale: SearchScale, last_date: date) -> None:
    with psycopg.connect(dsn) as conn:
        load_seconds, regions = timed(load_history, conn, scale, last_date)
        rows = conn.execute("SELECT count(*) FROM joint_embeddings").fetchone()[0]
        conn.execute("ANALYZE joint_embeddings")
        conn.commit()
        queries = _queries(conn, regions, scale, last_date)
        samples: dict[str, list[float]] = {"upstream": [], "numpy": []}
        exact_numpy = []
        for region, query_date, vector in queries:
            seconds, _dates = timed(upstream_search, conn, vector, query_date)
            samples["upstream"].append(seconds)
            seconds, result = timed(find_similar, conn, **_search_args(region, query_date), engine="numpy")
            samples["numpy"].append(seconds)
            exact_numpy.append([neighbour.joint_id for neighbour in result.neighbours])
        migration_seconds, _ = timed(_migrate, conn)
        rebuild_seconds, rebuilt = timed(rebuild_vector_index, conn)
        index_seconds, _ = timed(_build_hnsw, conn)
        samples.update({"pgvector exact": [], "pgvector HNSW": []})
        recalls, same_as_numpy = [], 0
        for (region, query_date, _vector), numpy_ids in zip(queries, exact_numpy, strict=True):
            seconds, exact = timed(find_similar, conn, **_search_args(region, query_date), engine="pgvector")
            samples["pgvector exact"].append(seconds)
            exact_ids = [neighbour.joint_id for neighbour in exact.neighbours]
            same_as_numpy += exact_ids == numpy_ids
            seconds, approximate = timed(find_similar, conn, **_search_args(region, query_date), approximate=True)
            samples["pgvector HNSW"].append(seconds)
            assert approximate.engine == "pgvector-hnsw", approximate.engine
            found = {neighbour.joint_id for neighbour in approximate.neighbours}
            recalls.append(len(found & set(exact_ids)) / len(exact_ids))
    summaries = {engine: timing_summary(values) for engine, values in samples.items()}
    upstream_p50 = summaries["upstream"]["median_ms"]
    recall = round(statistics.mean(recalls), 4)
    entry = {
        "rows": rows, "regions": scale.regions, "years": scale.years, "queries": len(queries), "top": TOP,
        "load_seconds": round(load_seconds, 1), "migration_seconds": round(migration_seconds, 2),
        "rebuild_seconds": round(rebuild_seconds, 1), "rebuild_copies": rebuilt.copies,
        "hnsw_build_seconds": round(index_seconds, 1), "timings": summaries, "hnsw_recall_at_10": recall,
        "exact_pgvector_equals_numpy": f"{same_as_numpy}/{len(queries)}",
    }
    results["search"] = entry
    results["ratios"]["upstream_over_hnsw_search"] = round(upstream_p50 / summaries["pgvector HNSW"]["median_ms"], 1)
    results["ratios"]["hnsw_recall_at_10"] = recall
    table = [[engine, summary["median_ms"], summary["min_ms"], summary["max_ms"],
              round(upstream_p50 / summary["median_ms"], 1),
              recall if engine == "pgvector HNSW" else (1.0 if engine != "upstream" else "-")]
             for engine, summary in summaries.items()]
    report.table(
        f"8. Analog-day search: {rows} vectors ({scale.regions} regions x {int(scale.years * 365)} days, 384-d), "
        f"{len(queries)} queries, top {TOP} cosine, --any-region",
        ["engine", "p50 ms", "min ms", "max ms", "upstream p50 / p50", "recall@10"], table,
        note=f"Exact pgvector = numpy neighbours on {same_as_numpy}/{len(queries)} queries. One-off costs: load "
             f"{entry['load_seconds']} s, migration {entry['migration_seconds']} s, vector-index rebuild "
             f"{entry['rebuild_seconds']} s, HNSW build {entry['hnsw_build_seconds']} s.")


def _search_args(region: str, query_date: date) -> dict:
    return {"joint_type": JOINT_TYPE, "model_id": MODEL_ID, "as_of_date": query_date, "entity_scope": scope(region),
            "top": TOP, "any_region": True}


def _queries(conn, regions: list[str], scale: SearchScale, last_date: date) -> list[tuple[str, date, np.ndarray]]:
    """Random (region, date) of the later 80% of the history, with the query vector (for the upstream pattern)."""
    chooser = random.Random(7)
    days = int(scale.years * 365)
    chosen = [(chooser.choice(regions), last_date - timedelta(days=chooser.randrange(int(days * 0.8))))
              for _ in range(scale.queries)]
    found = []
    for region, query_date in chosen:
        result = find_similar(conn, **{**_search_args(region, query_date), "top": 1}, engine="numpy")
        found.append((region, query_date, result.query.vector))
    return found


def _migrate(conn) -> None:
    """The optional migration without its HNSW index (built separately, to time it)."""
    text = (localdb.SCHEMA_DIR / "optional_pgvector.sql").read_text()
    conn.execute(text.split("CREATE INDEX IF NOT EXISTS idx_joint_vector_index_hnsw_384")[0])
    conn.commit()


def _build_hnsw(conn) -> None:
    text = (localdb.SCHEMA_DIR / "optional_pgvector.sql").read_text()
    statement = "CREATE INDEX IF NOT EXISTS idx_joint_vector_index_hnsw_384" + text.split(
        "CREATE INDEX IF NOT EXISTS idx_joint_vector_index_hnsw_384")[1].split(";")[0]
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(statement)
    conn.execute("ANALYZE joint_vector_index")
    conn.commit()


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.search --scale full --admin-dsn DSN``: this measurement alone (``bench.run`` runs it too)."""
    import argparse
    import os

    from bench.workload import LAST_DATE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SEARCH_SCALES), default="small")
    parser.add_argument("--admin-dsn", default=os.environ.get("JOINT_CONTEXT_TEST_DATABASE_URL"),
                        help="superuser DSN (default $JOINT_CONTEXT_TEST_DATABASE_URL; none: an embedded server)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results: dict = {"ratios": {}}
    with tempfile.TemporaryDirectory(prefix="jc-bench-search-") as scratch:
        server = None if args.admin_dsn else localdb.start_embedded_server(Path(scratch) / "pgdata",
                                                                            cleanup_mode="delete")
        try:
            measure_search(Report(), results, args.admin_dsn or server.get_uri(), args.scale, LAST_DATE,
                           f"jc_bench_search_{args.scale}")
        finally:
            if server is not None:
                server.cleanup()
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
