"""The three operators executed as Airflow's task runner would, against the real databases."""

import json
import logging
from datetime import date

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.compat import AirflowFailException
from joint_context.operators import (
    AggregateJointOperator,
    ExtractJointInputsOperator,
    WriteJointEmbeddingsOperator,
)
from joint_context.spaces import REGIME_MACRO_V0
from tests.helpers import expected_joint, joint_rows, random_vectors

DAY = date(2025, 1, 2)
CONTEXTS = [{"region": "US", "country": "US"}, {"region": "EU"}]


class DagRun:
    """The one attribute the operators read from the run: its conf."""

    def __init__(self, conf):
        self.conf = conf


def task_context(conf=None):
    return {"params": dict(conf or {}), "dag_run": DagRun(conf or {})}


def run_chain(conf, as_of_date=DAY):
    """extract -> aggregate -> write, each output handed on as XCom would (through JSON)."""
    context = task_context(conf)
    extract = ExtractJointInputsOperator(task_id="extract", space=REGIME_MACRO_V0, as_of_date=as_of_date.isoformat())
    extracted = json.loads(json.dumps(extract.execute(context)))
    aggregate = AggregateJointOperator(task_id="aggregate", space=REGIME_MACRO_V0, extracted=extracted)
    aggregated = json.loads(json.dumps(aggregate.execute(context)))
    write = WriteJointEmbeddingsOperator(task_id="write", space=REGIME_MACRO_V0, aggregated=aggregated)
    return extracted, aggregated, write.execute(context)


@pytest.fixture
def seeded(runtime_conn, historical_conn):
    rng = np.random.default_rng(5)
    regimes = {region: random_vectors(rng, 1)[0] for region in ("US", "EU")}
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=vector)
    us_text = random_vectors(rng, 400)
    for index, vector in enumerate(us_text):
        insert_macro_event(historical_conn, timestamp=utc(DAY, index % 24, index % 60), vector=vector, country="US")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 3), vector=None, country="US")
    return regimes, us_text


def test_chain_writes_vectors_matching_numpy(seeded, historical_conn):
    regimes, us_text = seeded
    _, _, summary = run_chain({"contexts": CONTEXTS})
    assert summary["counts"] == {"written": 2, "replaced": 0, "skipped": 0, "removed": 0}
    rows = {row[2]["region"]: row for row in joint_rows(historical_conn)}
    np.testing.assert_allclose(rows["US"][4], expected_joint(regimes["US"], us_text), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rows["EU"][4], expected_joint(regimes["EU"], us_text), rtol=1e-6, atol=1e-7)


def test_xcom_carries_sums_and_counts_not_the_text_vectors(seeded):
    extracted, aggregated, _ = run_chain({"contexts": CONTEXTS})
    us = extracted["contexts"][0]
    assert us["text"]["vector_count"] == 400 and us["text"]["null_count"] == 1
    assert len(us["text"]["vector_sum"]) == 384 and len(us["regime_vector"]) == 384
    # 400 vectors of 384 floats would be ~1.5 MB of JSON; two O(dimension) vectors per context are far less
    assert len(json.dumps(extracted)) < 4 * 2 * 384 * 25
    assert len(aggregated["results"][0]["vector"]) == 384


def test_logs_say_what_happened_per_context(seeded, caplog):
    caplog.set_level(logging.INFO, logger="joint_context")
    run_chain({"contexts": CONTEXTS})
    run_chain({"contexts": CONTEXTS})
    text = caplog.text
    assert "US [country=US]: regime row regime-US" in text
    assert "400 text vectors, 1 with a NULL vector left out" in text
    assert "L2 norm" in text
    assert "US [country=US]: replaced 1 previous row(s)" in text
    assert "2025-01-02: 0 written, 2 replaced, 0 skipped (0 stale rows removed)" in text


def test_null_regime_embedding_means_no_regime(runtime_conn, historical_conn, caplog):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(384), created_at=utc(DAY, 1))
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=None, created_at=utc(DAY, 2),
                  record_id="us-null-newest")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(384), country="US")
    caplog.set_level(logging.INFO, logger="joint_context")
    _, _, summary = run_chain({})
    assert summary["counts"]["skipped"] == 1
    assert "newest regime row 'us-null-newest' has a NULL regime_embedding" in caplog.text
    assert joint_rows(historical_conn) == []


def test_dimension_mismatch_between_branches_fails_without_retry(runtime_conn, historical_conn):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(8), record_id="us-8d")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), country="US")
    with pytest.raises(AirflowFailException, match=r"regimes row 'us-8d': regime vector has dimension 8 .* have 4"):
        run_chain({})
    assert joint_rows(historical_conn) == []


def test_malformed_regime_vector_names_the_row(runtime_conn, historical_conn):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=b"\x00\x00\x80", record_id="us-bad")
    insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=np.ones(4), country="US")
    with pytest.raises(AirflowFailException, match=r"runtime_db.regimes row 'us-bad': vector has 3 bytes"):
        run_chain({})


def test_malformed_text_vector_names_the_source_id(runtime_conn, historical_conn):
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(4))
    bad = np.ones(4, dtype=np.float32)
    bad[1] = np.inf
    source_id = insert_macro_event(historical_conn, timestamp=utc(DAY, 8), vector=bad, country="US")
    with pytest.raises(AirflowFailException, match=rf"text_embeddings row '{source_id}': .*non-finite value \(inf\)"):
        run_chain({})


def test_bad_params_fail_before_any_query(clean_databases):
    with pytest.raises(AirflowFailException, match="text_weight must be >= 0"):
        run_chain({"text_weight": -1})


def test_an_unreachable_database_is_a_retryable_error_not_a_data_error(clean_databases, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_RUNTIME_DB", json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "postgres", "schema": "runtime_db"}))
    extract = ExtractJointInputsOperator(task_id="extract", space=REGIME_MACRO_V0, as_of_date=DAY.isoformat())
    with pytest.raises(Exception) as raised:
        extract.execute(task_context())
    assert not isinstance(raised.value, AirflowFailException)
    assert "refused" in str(raised.value).lower() or "connect" in str(raised.value).lower()
