"""Seed runtime_db and historical_db with the synthetic month of ``make demo``, once.

The ``data-seed`` service of docker-compose.yaml runs this against the data PostgreSQL as its superuser
(the package's own role may not write the input tables). The server comes from libpq's ``PG*`` variables,
the database names from ``RUNTIME_DB_NAME`` / ``HISTORICAL_DB_NAME`` (default runtime_db / historical_db).
Tables that already hold data are left alone, so running it again changes nothing.
"""

from __future__ import annotations

import os
import sys

import psycopg

from devtools.seed import DEMO_DAYS, DEMO_FIRST_DATE, seed_demo


def main() -> int:
    runtime_db = os.environ.get("RUNTIME_DB_NAME", "runtime_db")
    historical_db = os.environ.get("HISTORICAL_DB_NAME", "historical_db")
    with psycopg.connect(dbname=runtime_db) as runtime_conn, psycopg.connect(dbname=historical_db) as historical_conn:
        (regime_rows,) = runtime_conn.execute("SELECT count(*) FROM regimes").fetchone()
        (text_rows,) = historical_conn.execute("SELECT count(*) FROM text_embeddings").fetchone()
        if regime_rows or text_rows:
            print(f"not seeding: {runtime_db}.regimes has {regime_rows} rows and {historical_db}.text_embeddings "
                  f"has {text_rows}; the demo data goes into empty tables only")
            return 0
        summary = seed_demo(runtime_conn, historical_conn)
    print(f"seeded {DEMO_DAYS} days from {DEMO_FIRST_DATE}: {summary.regimes} regime rows, "
          f"{summary.macro_events} macro events, {summary.news_articles} news articles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
