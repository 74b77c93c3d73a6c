"""Seeded inputs and stored rows shared by the command-line tests."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_news_article, insert_regime, utc
from tests.e2e.cli_helpers import MACRO_DATES
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import random_vectors


@pytest.fixture(scope="session")
def parse_dags(airflow_metadata_db, databases):
    """Parse ``dags/`` afresh: in-process runs change the DAG's params, as a task process never would."""
    from airflow.dag_processing.dagbag import DagBag

    def parse():
        bag = DagBag()
        assert not bag.import_errors, bag.import_errors
        return bag

    return parse


@pytest.fixture
def run_dag(parse_dags, clean_databases):
    """Run a DAG for one as_of_date through ``dag.test`` and return the DagRun's state."""
    import pendulum

    def run(dag_id: str, as_of_date: dt.date, conf: dict | None = None) -> str:
        logical_date = pendulum.datetime(as_of_date.year, as_of_date.month, as_of_date.day, tz="UTC")
        dag_run = parse_dags().dags[dag_id].test(logical_date=logical_date, run_conf=conf)
        return str(getattr(dag_run.state, "value", dag_run.state))

    return run


@pytest.fixture
def macro_range(runtime_conn, historical_conn):
    """Five days: both contexts written; EU without regime (its stale row present); no text at all; a malformed
    vector (a row from before that must survive); a newer regime row, a NULL regime and a NULL text vector."""
    rng = np.random.default_rng(23)
    d0, d1, d2, d3, d4 = MACRO_DATES
    regimes = {}
    for day, regions in ((d0, ("US", "EU")), (d1, ("US",)), (d2, ("US", "EU")), (d3, ("US", "EU")), (d4, ("US",))):
        for region in regions:
            regimes[(region, day)] = random_vectors(rng, 1)[0]
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=regimes[(region, day)],
                          created_at=utc(day, 6))
    insert_regime(runtime_conn, region="US", as_of_date=d4, vector=random_vectors(rng, 1)[0], created_at=utc(d4, 1))
    insert_regime(runtime_conn, region="EU", as_of_date=d4, vector=None, created_at=utc(d4, 6))
    text = {}
    for day, counts in ((d0, {"US": 3, "DE": 2, "FR": 2}), (d1, {"US": 2, "DE": 2}), (d3, {"US": 2, "DE": 1}),
                        (d4, {"US": 3, "DE": 1})):
        for country, count in counts.items():
            text[(country, day)] = random_vectors(rng, count)
            for index, vector in enumerate(text[(country, day)]):
                insert_macro_event(historical_conn, timestamp=utc(day, 1 + index * 5), vector=vector, country=country)
    insert_macro_event(historical_conn, timestamp=utc(d3, 20), vector=b"\x00" * 7, country="US")
    insert_macro_event(historical_conn, timestamp=utc(d4, 22), vector=None, country="US")
    insert_macro_event(historical_conn, timestamp=utc(d4 + timedelta(days=1)), vector=np.ones(384), country="US")
    return regimes, text



@pytest.fixture
def news_range(runtime_conn, historical_conn):
    """Three days of news: English in two spellings and German; EU without regime on day 1; German only on day 2."""
    rng = np.random.default_rng(31)
    e0, e1, e2 = MACRO_DATES[:3]
    for day, regions in ((e0, ("US", "EU")), (e1, ("US",)), (e2, ("US", "EU"))):
        for region in regions:
            insert_regime(runtime_conn, region=region, as_of_date=day, vector=random_vectors(rng, 1)[0])
    for day, languages in ((e0, ("en", "EN", "en", "de")), (e1, ("En", "de")), (e2, ("de", "de"))):
        for index, language in enumerate(languages):
            insert_news_article(historical_conn, timestamp=utc(day, 3 + index), language=language,
                                vector=random_vectors(rng, 1)[0])



@pytest.fixture
def stored_macro_series(historical_conn):
    """US [country=US] vectors before and in the range (a gap, a legacy duplicate, a NULL vector), and rows that
    ``show --region US`` must leave out (another region, another space) or list as their own series."""
    rng = np.random.default_rng(5)
    vectors = {name: rng.normal(size=8).astype(np.float32) for name in ("before", "d0", "d1", "d1_old", "d3", "v2")}
    us = macro_scope("US", country="US")
    d0, d1, _d2, d3, d4 = MACRO_DATES
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0 - timedelta(days=3), us, vectors["before"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0, us, vectors["d0"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["d1_old"], created_at=utc(d1, 1))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["d1"], created_at=utc(d1, 2))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d3, us, vectors["d3"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d4, us, None)
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d1, us, vectors["v2"], model_id="joint-regime-core-v2")
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", d0, macro_scope("EU", country="DE"), np.ones(8))
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", d0, news_scope("US"), np.ones(8))
    return vectors



@pytest.fixture
def two_spaces(historical_conn):
    """US: macro [country=US] on d0, d1, d3; news [language=en] on d0..d3 and [language=de] on d0, d1."""
    rng = np.random.default_rng(9)
    d0, d1, d2, d3 = MACRO_DATES[:4]
    macro = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1, d3)}
    news_en = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1, d2, d3)}
    news_de = {day: rng.normal(size=8).astype(np.float32) for day in (d0, d1)}
    for day, vector in macro.items():
        insert_joint_row(historical_conn, "REGIME_MACRO_V0", day, macro_scope("US", country="US"), vector)
    for language, series in (("en", news_en), ("de", news_de)):
        for day, vector in series.items():
            insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", day, news_scope("US", language=language), vector)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", d0, news_scope("EU", language="en"), np.ones(8))
    return macro, news_en, news_de
