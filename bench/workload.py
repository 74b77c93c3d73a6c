"""What the benchmark measures on: the scales, the last date of every history, the contexts of each space."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

from devtools.paths import REPO_ROOT

LAST_DATE = date(2025, 12, 31)
MACRO_CONTEXTS = [
    {"region": "US", "country": "US"}, {"region": "EU", "country": "DE"}, {"region": "JP", "country": "JP"},
]
NEWS_CONTEXTS = [{"region": "US", "language": "en"}, {"region": "EU", "language": "de"}, {"region": "JP"}]
REGIONS = ("US", "EU", "JP")


@dataclass(frozen=True)
class Scale:
    """History sizes and sample counts of one benchmark scale (x10 = ten times the x1 days)."""

    macro_days: int
    macro_per_day: int
    news_days: int
    news_per_day: int
    rss_vectors: int
    dates: int
    repeats: int
    backfill_days: int


SCALES = {
    "tiny": Scale(macro_days=7, macro_per_day=5, news_days=3, news_per_day=20, rss_vectors=2_000, dates=2,
                  repeats=1, backfill_days=3),
    "small": Scale(macro_days=60, macro_per_day=50, news_days=10, news_per_day=200, rss_vectors=20_000, dates=5,
                   repeats=3, backfill_days=7),
    "full": Scale(macro_days=365, macro_per_day=50, news_days=30, news_per_day=2_000, rss_vectors=200_000, dates=7,
                  repeats=3, backfill_days=31),
}


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
