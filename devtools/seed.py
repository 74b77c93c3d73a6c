"""Rows in the legacy schema: single inserts for tests, and the synthetic month of ``make demo``."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from joint_context.vectors import encode_vector

_record_numbers = itertools.count(1)


def _vector_bytes(vector) -> bytes | None:
    if vector is None or isinstance(vector, (bytes, bytearray, memoryview)):
        return None if vector is None else bytes(vector)
    return encode_vector(np.asarray(vector))


def insert_regime(
    runtime_conn, *, region: str, as_of_date: date, vector, record_id: str | None = None,
    created_at: datetime | None = None, label: str = "NEUTRAL", confidence: float = 0.9,
) -> str:
    """Insert one regime row (``vector``: array, raw bytes or None) and return its ``regime_record_id``."""
    record_id = record_id or f"regime-{region}-{as_of_date}-{next(_record_numbers):06d}-{uuid.uuid4().hex[:6]}"
    runtime_conn.execute(
        "INSERT INTO regimes (regime_record_id, as_of_date, region, regime_label, regime_embedding, confidence,"
        " created_at) VALUES (%s, %s, %s, %s, %s, %s, COALESCE(%s, now()))",
        (record_id, as_of_date, region, label, _vector_bytes(vector), confidence, created_at),
    )
    return record_id


def insert_macro_event(
    historical_conn, *, timestamp: datetime, vector, country: str | None = None, event_type: str = "CPI",
    source_type: str = "MACRO", model_id: str = "text-macro-v1", description: str = "synthetic event",
) -> str:
    """Insert a macro event and its text embedding; return the embedding's ``source_id``."""
    (event_id,) = historical_conn.execute(
        'INSERT INTO macro_events (event_type, "timestamp", country, description) VALUES (%s, %s, %s, %s)'
        " RETURNING event_id",
        (event_type, timestamp, country, description),
    ).fetchone()
    insert_text_embedding(historical_conn, source_type=source_type, source_id=str(event_id),
                          model_id=model_id, vector=vector)
    return str(event_id)


def insert_news_article(
    historical_conn, *, timestamp: datetime, vector, language: str | None = "en", source: str = "wire",
    source_type: str = "NEWS", model_id: str = "text-fin-general-v1", headline: str = "synthetic headline",
) -> str:
    """Insert a news article and its text embedding; return the embedding's ``source_id``."""
    (article_id,) = historical_conn.execute(
        'INSERT INTO news_articles ("timestamp", source, language, headline) VALUES (%s, %s, %s, %s)'
        " RETURNING article_id",
        (timestamp, source, language, headline),
    ).fetchone()
    insert_text_embedding(historical_conn, source_type=source_type, source_id=str(article_id),
                          model_id=model_id, vector=vector)
    return str(article_id)


def insert_text_embedding(historical_conn, *, source_type: str, source_id: str, model_id: str, vector) -> None:
    historical_conn.execute(
        "INSERT INTO text_embeddings (source_type, source_id, model_id, vector) VALUES (%s, %s, %s, %s)",
        (source_type, source_id, model_id, _vector_bytes(vector)),
    )


def utc(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


DEMO_FIRST_DATE = date(2025, 1, 1)
DEMO_DAYS = 31
DEMO_REGIONS = ("US", "EU")
DEMO_MACRO_CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}]
DEMO_NEWS_CONTEXTS = [{"region": "US", "language": "en"}, {"region": "EU", "language": "de"}]


@dataclass
class DemoSummary:
    regimes: int = 0
    macro_events: int = 0
    news_articles: int = 0


def seed_demo(runtime_conn, historical_conn, *, dimension: int = 384, random_seed: int = 7) -> DemoSummary:
    """A month of synthetic data for two regions (reproducible from ``random_seed``).

    Regimes most days (a few days missing, some days with a newer second row); macro events on weekdays
    only for US, DE and FR; news articles every day in English and German. Weekends therefore have no
    macro text and are skipped in the macro space.
    """
    rng = np.random.default_rng(random_seed)
    summary = DemoSummary()
    regime_base = {region: rng.normal(size=dimension) for region in DEMO_REGIONS}
    for offset in range(DEMO_DAYS):
        day = DEMO_FIRST_DATE + timedelta(days=offset)
        for region in DEMO_REGIONS:
            if (region, offset) in {("EU", 9), ("US", 20)}:
                continue  # no regime published that day
            drift = regime_base[region] + 0.3 * rng.normal(size=dimension)
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=drift, created_at=utc(day, 6))
            summary.regimes += 1
            if offset % 7 == 3:  # a re-run of the regime model: the newer row wins
                insert_regime(runtime_conn, region=region, as_of_date=day, vector=drift + 0.1, created_at=utc(day, 9))
                summary.regimes += 1
        if day.weekday() < 5:
            for event_number in range(int(rng.integers(3, 7))):
                country = ("US", "DE", "FR")[event_number % 3]
                insert_macro_event(
                    historical_conn, timestamp=utc(day, 8 + 2 * event_number, 30), country=country,
                    event_type=("CPI", "RATE_DECISION", "PMI")[event_number % 3],
                    vector=rng.normal(size=dimension), description=f"{country} macro release",
                )
                summary.macro_events += 1
        for article_number in range(int(rng.integers(4, 9))):
            insert_news_article(
                historical_conn, timestamp=utc(day, 1 + 2 * article_number, 15),
                language=("en", "de", "EN")[article_number % 3], vector=rng.normal(size=dimension),
            )
            summary.news_articles += 1
    runtime_conn.commit()
    historical_conn.commit()
    return summary
