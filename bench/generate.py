"""A synthetic history in the legacy schema, loaded with binary ``COPY`` and reproducible from a seed.

For each of ``regions`` and each day ending at ``last_date``: one regime row (a second, newer one every
seventh day), ``macro_per_day`` macro events and ``news_per_day`` news articles, each with a text embedding
of ``dimension`` float32 values. Rows go in in time order, as an append-only production table fills.
Two random streams (metadata, vectors) are drawn from ``seed`` so the same spec gives the same bytes.

    .venv/bin/python -m bench.generate --help
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import numpy as np
import psycopg
from psycopg import sql

from devtools import localdb

log = logging.getLogger(__name__)

MACRO_COUNTRIES = ("US", "DE", "JP", "FR", "GB")  # FR and GB: events no benchmark context asks for
EVENT_TYPES = ("CPI", "PMI", "RATE_DECISION", "GDP", "PAYROLLS")
NEWS_LANGUAGES = ("en", "EN", "de", "ja", "fr")
NEWS_SOURCES = ("wire", "paper", "blog")
MACRO_TEXT_MODEL_ID = "text-macro-v1"
NEWS_TEXT_MODEL_ID = "text-fin-general-v1"
SECONDS_PER_DAY = 86_400
OPTIONAL_INDEXES = localdb.SCHEMA_DIR / "optional_indexes.sql"


@dataclass(frozen=True)
class HistorySpec:
    """What to generate: regions, how many days of each source ending at ``last_date``, rows per day.

    :param regions: regime regions, e.g. ``("US", "EU", "JP")``.
    :param last_date: the newest day of every source.
    :param macro_days: days of macro events (0: none).
    :param macro_per_day: macro events per day, spread over ``MACRO_COUNTRIES`` in turn.
    :param news_days: days of news articles (0: none).
    :param news_per_day: news articles per day, spread over ``NEWS_LANGUAGES`` in turn.
    :param dimension: length of every vector.
    :param seed: the seed both random streams derive from.
    """

    regions: tuple[str, ...]
    last_date: date
    macro_days: int
    macro_per_day: int
    news_days: int
    news_per_day: int
    dimension: int = 384
    seed: int = 20251231

    @property
    def regime_days(self) -> int:
        return max(self.macro_days, self.news_days)

    def days(self, count: int) -> list[date]:
        return [self.last_date - timedelta(days=offset) for offset in range(count - 1, -1, -1)]

    def fingerprint(self) -> str:
        """Identifies the generated content: a database commented with it need not be generated again."""
        text = json.dumps({**asdict(self), "last_date": self.last_date.isoformat(), "version": 1}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GeneratedHistory:
    spec: HistorySpec
    runtime_dsn: str
    historical_dsn: str
    counts: dict
    seconds: float
    reused: bool


def day_start(day: date) -> datetime:
    return datetime.combine(day, clock_time.min, tzinfo=UTC)


def _timestamps(rng: np.random.Generator, day: date, count: int) -> list[datetime]:
    start = day_start(day)
    seconds = np.sort(rng.integers(0, SECONDS_PER_DAY, size=count))
    return [start + timedelta(seconds=int(second)) for second in seconds]


def _vector_rows(rng: np.random.Generator, count: int, dimension: int) -> Iterator[bytes]:
    """``count`` vectors as stored bytes, drawn in chunks so memory stays small."""
    chunk_rows = 4096
    for first in range(0, count, chunk_rows):
        chunk = rng.standard_normal((min(chunk_rows, count - first), dimension), dtype=np.float32)
        raw = chunk.astype("<f4").tobytes()
        width = dimension * 4
        for index in range(chunk.shape[0]):
            yield raw[index * width:(index + 1) * width]


def _copy(conn: psycopg.Connection, table: str, columns: list[str], types: list[str], rows) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    )
    written = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def _regime_rows(spec: HistorySpec, rng: np.random.Generator) -> Iterator[tuple]:
    base = {region: rng.standard_normal(spec.dimension) for region in spec.regions}
    for day in spec.days(spec.regime_days):
        for region in spec.regions:
            vector = (base[region] + 0.3 * rng.standard_normal(spec.dimension)).astype("<f4")
            yield (f"regime-{region}-{day}-a", day, region, "NEUTRAL", vector.tobytes(), 0.9,
                   day_start(day) + timedelta(hours=6))
            if day.toordinal() % 7 == 0:  # a re-run of the regime model: the newer row wins
                yield (f"regime-{region}-{day}-b", day, region, "RISK_ON", (vector + 0.1).astype("<f4").tobytes(),
                       0.8, day_start(day) + timedelta(hours=9))


def _macro_event_rows(spec: HistorySpec, rng: np.random.Generator) -> Iterator[tuple]:
    event_id = 0
    for day in spec.days(spec.macro_days):
        for number, timestamp in enumerate(_timestamps(rng, day, spec.macro_per_day)):
            event_id += 1
            country = MACRO_COUNTRIES[number % len(MACRO_COUNTRIES)]
            event_type = EVENT_TYPES[int(rng.integers(len(EVENT_TYPES)))]
            yield (event_id, event_type, timestamp, country, f"{country} {event_type} release")


def _news_article_rows(spec: HistorySpec, rng: np.random.Generator) -> Iterator[tuple]:
    article_id = 0
    for day in spec.days(spec.news_days):
        for number, timestamp in enumerate(_timestamps(rng, day, spec.news_per_day)):
            article_id += 1
            yield (article_id, timestamp, NEWS_SOURCES[number % len(NEWS_SOURCES)],
                   NEWS_LANGUAGES[number % len(NEWS_LANGUAGES)], f"headline {article_id}")


def _embedding_rows(source_type: str, model_id: str, count: int, rng: np.random.Generator, dimension: int):
    for source_id, vector in enumerate(_vector_rows(rng, count, dimension), start=1):
        yield (source_type, str(source_id), model_id, vector)


def load_history(runtime_dsn: str, historical_dsn: str, spec: HistorySpec) -> dict:
    """COPY ``spec``'s rows into empty legacy-schema databases; apply the optional indexes; ANALYZE."""
    metadata_rng = np.random.default_rng([spec.seed, 0])
    vector_rng = np.random.default_rng([spec.seed, 1])
    counts = {}
    with psycopg.connect(runtime_dsn) as runtime_conn:
        counts["regimes"] = _copy(
            runtime_conn, "regimes",
            ["regime_record_id", "as_of_date", "region", "regime_label", "regime_embedding", "confidence",
             "created_at"],
            ["text", "date", "text", "text", "bytea", "float8", "timestamptz"],
            _regime_rows(spec, metadata_rng),
        )
    macro_count = spec.macro_days * spec.macro_per_day
    news_count = spec.news_days * spec.news_per_day
    with psycopg.connect(historical_dsn) as historical_conn:
        counts["macro_events"] = _copy(
            historical_conn, "macro_events", ["event_id", "event_type", "timestamp", "country", "description"],
            ["int8", "text", "timestamptz", "text", "text"], _macro_event_rows(spec, metadata_rng),
        )
        counts["news_articles"] = _copy(
            historical_conn, "news_articles", ["article_id", "timestamp", "source", "language", "headline"],
            ["int8", "timestamptz", "text", "text", "text"], _news_article_rows(spec, metadata_rng),
        )
        embedding_columns = ["source_type", "source_id", "model_id", "vector"]
        embedding_types = ["text", "text", "text", "bytea"]
        counts["text_embeddings"] = _copy(
            historical_conn, "text_embeddings", embedding_columns, embedding_types,
            _embedding_rows("MACRO", MACRO_TEXT_MODEL_ID, macro_count, vector_rng, spec.dimension),
        ) + _copy(
            historical_conn, "text_embeddings", embedding_columns, embedding_types,
            _embedding_rows("NEWS", NEWS_TEXT_MODEL_ID, news_count, vector_rng, spec.dimension),
        )
        for table, column in (("macro_events", "event_id"), ("news_articles", "article_id")):
            historical_conn.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({table}, {column}), "
                        "(SELECT coalesce(max({ident}), 0) + 1 FROM {tident}), false)").format(
                    table=sql.Literal(table), column=sql.Literal(column),
                    ident=sql.Identifier(column), tident=sql.Identifier(table)))
    apply_optional_indexes(historical_dsn)
    for dsn in (runtime_dsn, historical_dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    return counts


def apply_optional_indexes(historical_dsn: str) -> None:
    """Run ``include/sql/schema/optional_indexes.sql`` statement by statement, outside a transaction.

    ``CREATE INDEX CONCURRENTLY`` refuses to run inside a transaction block, so the file is not sent whole.
    """
    statements = [
        statement.strip() for statement in _strip_comments(OPTIONAL_INDEXES.read_text()).split(";")
        if statement.strip()
    ]
    with psycopg.connect(historical_dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def generate(admin_dsn: str, name: str, spec: HistorySpec, *, reuse: bool = False) -> GeneratedHistory:
    """Databases ``<name>_runtime`` and ``<name>_historical`` holding ``spec``'s history.

    With ``reuse``, databases already commented with the spec's fingerprint are kept as they are.
    """
    runtime_name, historical_name = f"{name}_runtime", f"{name}_historical"
    fingerprint = spec.fingerprint()
    runtime_dsn = localdb.dsn_for(admin_dsn, runtime_name)
    historical_dsn = localdb.dsn_for(admin_dsn, historical_name)
    started = time.perf_counter()
    if reuse and all(_database_comment(admin_dsn, db) == fingerprint for db in (runtime_name, historical_name)):
        counts = _count_rows(historical_dsn)
        return GeneratedHistory(spec, runtime_dsn, historical_dsn, counts, time.perf_counter() - started, True)
    localdb.create_database(admin_dsn, runtime_name, "runtime_db.sql")
    localdb.create_database(admin_dsn, historical_name, "historical_db.sql")
    counts = load_history(runtime_dsn, historical_dsn, spec)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for db in (runtime_name, historical_name):
            admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(db), sql.Literal(fingerprint)))
    seconds = time.perf_counter() - started
    log.info("generated %s in %.1f s: %s", name, seconds, counts)
    return GeneratedHistory(spec, runtime_dsn, historical_dsn, counts, seconds, False)


def drop(admin_dsn: str, name: str) -> None:
    for suffix in ("runtime", "historical"):
        localdb.drop_database(admin_dsn, f"{name}_{suffix}")


def _database_comment(admin_dsn: str, dbname: str) -> str | None:
    with psycopg.connect(admin_dsn) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return None if row is None else row[0]


def _count_rows(historical_dsn: str) -> dict:
    with psycopg.connect(historical_dsn) as conn:
        return {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            for table in ("macro_events", "news_articles", "text_embeddings")
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-dsn", default=os.environ.get("JOINT_CONTEXT_TEST_DATABASE_URL"),
                        help="superuser DSN of the server (default: $JOINT_CONTEXT_TEST_DATABASE_URL)")
    parser.add_argument("--name", default="jc_bench_manual", help="database name prefix")
    parser.add_argument("--regions", default="US,EU,JP")
    parser.add_argument("--last-date", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--macro-days", type=int, default=365)
    parser.add_argument("--macro-per-day", type=int, default=50)
    parser.add_argument("--news-days", type=int, default=30)
    parser.add_argument("--news-per-day", type=int, default=2000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--seed", type=int, default=20251231)
    args = parser.parse_args(argv)
    if not args.admin_dsn:
        parser.error("--admin-dsn or JOINT_CONTEXT_TEST_DATABASE_URL is required")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = HistorySpec(
        regions=tuple(args.regions.split(",")), last_date=args.last_date, macro_days=args.macro_days,
        macro_per_day=args.macro_per_day, news_days=args.news_days, news_per_day=args.news_per_day,
        dimension=args.dimension, seed=args.seed,
    )
    generated = generate(args.admin_dsn, args.name, spec)
    print(json.dumps({"runtime_dsn": generated.runtime_dsn, "historical_dsn": generated.historical_dsn,
                      "counts": generated.counts, "seconds": round(generated.seconds, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
