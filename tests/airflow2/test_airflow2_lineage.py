"""OpenLineage on Airflow 2.11: the same provider release (2.20.3) and file transport, ``airflow dags test`` of
``.venv-airflow2``; the events name the same datasets and counts as on Airflow 3 (``tests/e2e/test_lineage.py``)."""

from __future__ import annotations

import json
from datetime import date

from devtools.airflow2 import venv_bin
from devtools.seed import insert_macro_event, utc
from tests.airflow2.conftest import run_bounded
from tests.e2e.test_lineage import OL_NAMESPACE, datasets, expected_inputs, namespace_of, task_event
from tests.reliability.conftest import seed_day

DAY = date(2025, 1, 2)
DAG_ID = "joint_regime_macro_context"
DAGS_TEST_TIMEOUT_SECONDS = 180


def test_airflow2_run_emits_the_same_datasets_and_counts_and_a_fail_event(airflow2, tmp_path, clean_databases,
                                                                         runtime_conn, historical_conn):
    seeded = seed_day(runtime_conn, historical_conn)
    events_file = tmp_path / "ol.jsonl"
    environment = {
        **airflow2.env,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file),
                                                       "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": OL_NAMESPACE,
    }

    def dags_test():
        result = run_bounded([str(venv_bin(airflow2.venv) / "airflow"), "dags", "test", DAG_ID, DAY.isoformat(),
                              "-c", json.dumps(seeded.params)], env=environment, timeout=DAGS_TEST_TIMEOUT_SECONDS)
        events = [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []
        events_file.unlink(missing_ok=True)
        return result, events

    result, events = dags_test()

    assert result.returncode == 0, result.tail()
    inputs = expected_inputs(clean_databases, "macro_events")
    write = task_event(events, DAG_ID, "write", "COMPLETE")
    assert write["job"]["namespace"] == OL_NAMESPACE
    assert datasets(write, "inputs") == inputs
    assert datasets(write, "outputs") == [(namespace_of(clean_databases.historical_dsn),
                                           f"{clean_databases.historical_name}.public.joint_embeddings")]
    facet = write["run"]["facets"]["jointContext"]
    assert (facet["joint_type"], facet["as_of_date"], facet["contexts_written"], facet["text_vectors_read"]) == (
        "REGIME_MACRO_V0", DAY.isoformat(), 2, 4 + 3)
    assert datasets(task_event(events, DAG_ID, "extract", "COMPLETE"), "inputs") == inputs

    insert_macro_event(historical_conn, timestamp=utc(DAY, 23), vector=b"\x00" * 7, country="US")
    result, events = dags_test()

    failed = task_event(events, DAG_ID, "extract", "FAIL")
    assert datasets(failed, "inputs") == inputs
    assert failed["run"]["facets"]["jointContext"]["joint_type"] == "REGIME_MACRO_V0"
    assert "vector has 7 bytes" in failed["run"]["facets"]["errorMessage"]["message"]
